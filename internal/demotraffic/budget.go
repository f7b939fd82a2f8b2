package demotraffic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DemoBudget is the budget the demo creates so Budgets, Alerts and the
// dashboard's burn-down start with something to show: the whole tenant,
// monthly, alerting at 50, 80 and 100 %, not blocking (the demo keeps
// working when it is spent).
var DemoBudget = struct {
	Name, Amount string
	Thresholds   []int
}{Name: "Demo monthly", Amount: "100", Thresholds: []int{50, 80, 100}}

// EnsureBudgetConfig signs in to the GraphQL API as a tenant owner.
type EnsureBudgetConfig struct {
	APIURL          string // e.g. http://127.0.0.1:8080
	Email, Password string
	Client          *http.Client
}

// EnsureBudget creates DemoBudget in the user's first tenant unless a budget
// of that name exists. It reports whether it created one.
func EnsureBudget(ctx context.Context, cfg EnsureBudgetConfig) (created bool, err error) {
	if cfg.APIURL == "" || cfg.Email == "" || cfg.Password == "" {
		return false, errors.New("demotraffic: the API URL, an email and a password are required to create the demo budget")
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 30 * time.Second}
	}
	url := strings.TrimRight(cfg.APIURL, "/") + "/query"
	var signIn struct{ SignIn struct{ AccessToken string } }
	if err := graphql(ctx, cfg.Client, url, "", `mutation($e:String!,$p:String!){signIn(email:$e,password:$p){accessToken}}`,
		map[string]any{"e": cfg.Email, "p": cfg.Password}, &signIn); err != nil {
		return false, fmt.Errorf("demotraffic: signing in as %s: %w", cfg.Email, err)
	}
	tok := signIn.SignIn.AccessToken
	var tenants struct{ Tenants []struct{ ID string } }
	if err := graphql(ctx, cfg.Client, url, tok, `{tenants{id}}`, nil, &tenants); err != nil {
		return false, fmt.Errorf("demotraffic: listing tenants: %w", err)
	}
	if len(tenants.Tenants) == 0 {
		return false, fmt.Errorf("demotraffic: %s belongs to no tenant", cfg.Email)
	}
	t := tenants.Tenants[0].ID
	var list struct {
		Budgets struct {
			Edges []struct{ Node struct{ Name string } }
		}
	}
	if err := graphql(ctx, cfg.Client, url, tok, `query($t:ID!){budgets(tenantId:$t,first:100){edges{node{name}}}}`, map[string]any{"t": t}, &list); err != nil {
		return false, fmt.Errorf("demotraffic: listing budgets: %w", err)
	}
	for _, e := range list.Budgets.Edges {
		if e.Node.Name == DemoBudget.Name {
			return false, nil
		}
	}
	in := map[string]any{"name": DemoBudget.Name, "scope": "TENANT", "period": "MONTH", "amount": DemoBudget.Amount, "thresholds": DemoBudget.Thresholds}
	if err := graphql(ctx, cfg.Client, url, tok, `mutation($t:ID!,$in:BudgetInput!){createBudget(tenantId:$t,input:$in){id}}`,
		map[string]any{"t": t, "in": in}, nil); err != nil {
		return false, fmt.Errorf("demotraffic: creating the demo budget: %w", err)
	}
	return true, nil
}

// graphql posts one GraphQL request; an error answer becomes an error with the server's message and code.
func graphql(ctx context.Context, c *http.Client, url, token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close() //nolint:errcheck // read below
	var r struct {
		Data   json.RawMessage
		Errors []struct {
			Message    string
			Extensions struct{ Code string }
		}
	}
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil {
		return fmt.Errorf("%s answered %d without a GraphQL body: %w", url, res.StatusCode, err)
	}
	if len(r.Errors) > 0 {
		return fmt.Errorf("%s [%s]", r.Errors[0].Message, r.Errors[0].Extensions.Code)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(r.Data, out)
}

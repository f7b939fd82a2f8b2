package pull

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spendgate/spendgate/reconcile"
)

// Google Cloud Billing's BigQuery export (standard usage cost schema), as a
// file: JSONL (one exported row per line, nested records as objects: the
// shape of `bq extract --destination_format NEWLINE_DELIMITED_JSON`) or CSV
// with the flattened column names (service.description, sku.description,
// usage_start_time, cost, currency, usage.amount, usage.unit). Only rows of
// the Vertex AI and Gemini API services are read; credits are not netted
// (the cost column is the charge before credits).

// billingServices are the services.description values whose rows are AI
// spend.
var billingServices = map[string]bool{"vertex ai": true, "gemini api": true, "generative language api": true}

type billingRow struct {
	Service struct {
		Description string `json:"description"`
	} `json:"service"`
	SKU struct {
		Description string `json:"description"`
	} `json:"sku"`
	UsageStartTime string      `json:"usage_start_time"`
	Cost           json.Number `json:"cost"`
	Currency       string      `json:"currency"`
	Usage          struct {
		Amount json.Number `json:"amount"`
		Unit   string      `json:"unit"`
	} `json:"usage"`
}

// ParseBillingExport reads an export file; format is "jsonl" or "csv".
func ParseBillingExport(body []byte, format string) ([]reconcile.ReportedRow, error) {
	var rows []billingRow
	var err error
	switch strings.ToLower(format) {
	case "jsonl", "json":
		rows, err = billingJSONL(body)
	case "csv":
		rows, err = billingCSV(body)
	default:
		return nil, fmt.Errorf("billing export format %q: want jsonl or csv", format)
	}
	if err != nil {
		return nil, err
	}
	acc := newAccumulator()
	for i, r := range rows {
		if !billingServices[strings.ToLower(strings.TrimSpace(r.Service.Description))] {
			continue
		}
		if cur := strings.ToUpper(r.Currency); cur != "USD" {
			return nil, fmt.Errorf("billing export row %d: currency %q; spendgate reconciles USD exports", i+1, r.Currency)
		}
		t, err := billingTime(r.UsageStartTime)
		if err != nil {
			return nil, fmt.Errorf("billing export row %d: %w", i+1, err)
		}
		nano, err := signedDecimal(r.Cost.String(), 9)
		if err != nil {
			return nil, fmt.Errorf("billing export row %d: cost %q: %w", i+1, r.Cost, err)
		}
		row := acc.row(reconcile.Day(t), SKUModel(r.SKU.Description))
		row.CostNanoUSD += nano
		row.HasCost = true
		if strings.Contains(strings.ToLower(r.Usage.Unit), "token") || strings.EqualFold(r.Usage.Unit, "count") {
			if n, err := r.Usage.Amount.Int64(); err == nil {
				if strings.Contains(strings.ToLower(r.SKU.Description), "output") {
					row.OutputTokens += n
				} else {
					row.InputTokens += n
				}
			}
		}
	}
	return acc.rows(), nil
}

// SKUModel is the model a Vertex AI / Gemini SKU description names: the
// words before the first usage word ("Gemini 2.5 Flash Input Text Tokens" →
// "gemini-2.5-flash"). A heuristic: SKUs are named for people, not joins.
func SKUModel(sku string) string {
	words := strings.Fields(sku)
	stop := map[string]bool{"input": true, "output": true, "text": true, "image": true, "audio": true, "video": true,
		"cached": true, "caching": true, "thinking": true, "characters": true, "tokens": true, "token": true, "batch": true,
		"predictions": true, "prediction": true, "for": true, "-": true}
	var keep []string
	for _, w := range words {
		if stop[strings.ToLower(w)] {
			break
		}
		keep = append(keep, strings.ToLower(w))
	}
	if len(keep) == 0 {
		return strings.ToLower(strings.Join(words, "-"))
	}
	return strings.Join(keep, "-")
}

func billingTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05 MST", "2006-01-02 15:04:05.999999 MST", "2006-01-02 15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("usage_start_time %q is not a timestamp", s)
}

func billingJSONL(body []byte) ([]billingRow, error) {
	var out []billingRow
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var r billingRow
		d := json.NewDecoder(bytes.NewReader(b))
		d.UseNumber()
		if err := d.Decode(&r); err != nil {
			return nil, fmt.Errorf("billing export line %d: %w", line, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("billing export: %w", err)
	}
	return out, nil
}

func billingCSV(body []byte) ([]billingRow, error) {
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("billing export: no CSV header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	var missing []string
	for _, need := range []string{"service.description", "sku.description", "usage_start_time", "cost", "currency"} {
		if _, ok := col[need]; !ok {
			missing = append(missing, need)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("billing export CSV lacks columns %s (the standard export's flattened names)", strings.Join(missing, ", "))
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	var out []billingRow
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("billing export CSV line %d: %w", line, err)
		}
		var b billingRow
		b.Service.Description = get(rec, "service.description")
		b.SKU.Description = get(rec, "sku.description")
		b.UsageStartTime = get(rec, "usage_start_time")
		b.Cost = json.Number(strings.TrimSpace(get(rec, "cost")))
		b.Currency = get(rec, "currency")
		b.Usage.Amount = json.Number(strings.TrimSpace(get(rec, "usage.amount")))
		b.Usage.Unit = get(rec, "usage.unit")
		out = append(out, b)
	}
}

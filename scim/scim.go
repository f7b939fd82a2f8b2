// Package scim is spendgate's SCIM 2.0 endpoint (RFC 7643, 7644) for
// identity providers (Okta, Microsoft Entra ID) to provision a tenant's users
// and groups: the HTTP handler, the JSON shapes, the filters IdPs send
// (userName eq "…") and PATCH as Okta and Entra send it (Entra capitalises
// ops, "Replace", and may send booleans as strings, "False"). State is the
// control plane's (controlplane.SCIMService); a bearer token per tenant
// authenticates.
package scim

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spendgate/spendgate/controlplane"
)

// Schema URNs.
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaList       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError      = "urn:ietf:params:scim:api:messages:2.0:Error"
	SchemaSPConfig   = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	SchemaResType    = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema     = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// Error is a SCIM error answer (RFC 7644 §3.12).
type Error struct {
	Status   int
	ScimType string // invalidFilter, invalidValue, uniqueness, mutability, invalidSyntax, invalidPath, noTarget
	Detail   string
}

func (e *Error) Error() string { return fmt.Sprintf("scim %d %s: %s", e.Status, e.ScimType, e.Detail) }

func badRequest(scimType, format string, args ...any) *Error {
	return &Error{Status: 400, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// flexBool reads a boolean as JSON true/false or a string ("True",
// "false"), as Entra sends it.
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v bool
	if err := json.Unmarshal(data, &v); err == nil {
		*b = flexBool(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("want true or false")
	}
	v, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(s)))
	if err != nil {
		return fmt.Errorf("want true or false, got %q", s)
	}
	*b = flexBool(v)
	return nil
}

type nameJSON struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

type multiValue struct {
	Value   string    `json:"value"`
	Display string    `json:"display,omitempty"`
	Type    string    `json:"type,omitempty"`
	Primary *flexBool `json:"primary,omitempty"`
	Ref     string    `json:"$ref,omitempty"`
}

type meta struct {
	ResourceType string `json:"resourceType"`
	Created      string `json:"created"`
	LastModified string `json:"lastModified"`
	Location     string `json:"location"`
}

// userJSON is a User resource as sent and answered.
type userJSON struct {
	Schemas     []string     `json:"schemas"`
	ID          string       `json:"id,omitempty"`
	ExternalID  string       `json:"externalId,omitempty"`
	UserName    string       `json:"userName"`
	Name        *nameJSON    `json:"name,omitempty"`
	DisplayName string       `json:"displayName,omitempty"`
	Emails      []multiValue `json:"emails,omitempty"`
	Active      *flexBool    `json:"active,omitempty"`
	Groups      []multiValue `json:"groups,omitempty"`
	Meta        *meta        `json:"meta,omitempty"`
}

type groupJSON struct {
	Schemas     []string     `json:"schemas"`
	ID          string       `json:"id,omitempty"`
	ExternalID  string       `json:"externalId,omitempty"`
	DisplayName string       `json:"displayName"`
	Members     []multiValue `json:"members,omitempty"`
	Meta        *meta        `json:"meta,omitempty"`
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func primaryEmail(emails []multiValue) string {
	for _, e := range emails {
		if e.Primary != nil && bool(*e.Primary) {
			return e.Value
		}
	}
	for _, e := range emails {
		if e.Type == "" || strings.EqualFold(e.Type, "work") {
			return e.Value
		}
	}
	if len(emails) > 0 {
		return emails[0].Value
	}
	return ""
}

// toUser turns a received User into the control plane's (active defaults
// to true, as RFC 7643 leaves it to the provider and IdPs omit it).
func (u userJSON) toUser() controlplane.SCIMUser {
	out := controlplane.SCIMUser{UserName: u.UserName, ExternalID: u.ExternalID, DisplayName: u.DisplayName, Email: primaryEmail(u.Emails), Active: true}
	if u.Name != nil {
		out.GivenName, out.FamilyName = u.Name.GivenName, u.Name.FamilyName
		if out.DisplayName == "" {
			out.DisplayName = u.Name.Formatted
		}
	}
	if u.Active != nil {
		out.Active = bool(*u.Active)
	}
	return out
}

func fromUser(base string, u controlplane.SCIMUser) userJSON {
	active := flexBool(u.Active)
	primary := flexBool(true)
	out := userJSON{Schemas: []string{SchemaUser}, ID: u.ID, ExternalID: u.ExternalID, UserName: u.UserName, DisplayName: u.DisplayName,
		Name:   &nameJSON{GivenName: u.GivenName, FamilyName: u.FamilyName, Formatted: strings.TrimSpace(u.GivenName + " " + u.FamilyName)},
		Emails: []multiValue{{Value: u.Email, Type: "work", Primary: &primary}}, Active: &active,
		Meta: &meta{ResourceType: "User", Created: ts(u.Created), LastModified: ts(u.Updated), Location: base + "/Users/" + u.ID}}
	for _, g := range u.Groups {
		out.Groups = append(out.Groups, multiValue{Value: g.ID, Display: g.Display, Ref: base + "/Groups/" + g.ID})
	}
	return out
}

func fromGroup(base string, g controlplane.SCIMGroup) groupJSON {
	out := groupJSON{Schemas: []string{SchemaGroup}, ID: g.ID, ExternalID: g.ExternalID, DisplayName: g.DisplayName, Members: []multiValue{},
		Meta: &meta{ResourceType: "Group", Created: ts(g.Created), LastModified: ts(g.Updated), Location: base + "/Groups/" + g.ID}}
	for _, m := range g.Members {
		out.Members = append(out.Members, multiValue{Value: m.ID, Display: m.Display, Ref: base + "/Users/" + m.ID})
	}
	return out
}

// Filter is a parsed `attribute eq "value"` filter, the only form IdPs send
// for provisioning lookups.
type Filter struct {
	Attr, Value string
}

// ParseFilter reads `attr eq "value"` (attribute names case-insensitive, as
// RFC 7644 says). Anything else is an invalidFilter error.
func ParseFilter(s string, allowed ...string) (Filter, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Filter{}, nil
	}
	attr, rest, ok := strings.Cut(s, " ")
	rest = strings.TrimSpace(rest)
	op, val, ok2 := strings.Cut(rest, " ")
	if !ok || !ok2 || !strings.EqualFold(op, "eq") {
		return Filter{}, badRequest("invalidFilter", "only filters of the form attribute eq \"value\" are supported")
	}
	val = strings.TrimSpace(val)
	uq, err := strconv.Unquote(val)
	if err != nil || !strings.HasPrefix(val, `"`) {
		return Filter{}, badRequest("invalidFilter", "the filter value must be a quoted string")
	}
	for _, a := range allowed {
		if strings.EqualFold(attr, a) {
			return Filter{Attr: a, Value: uq}, nil
		}
	}
	return Filter{}, badRequest("invalidFilter", "filtering by %q is not supported (use %s)", attr, strings.Join(allowed, ", "))
}

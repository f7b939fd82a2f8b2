package scim

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"

	"github.com/spendgate/spendgate/controlplane"
)

// PatchRequest is a PATCH body (RFC 7644 §3.5.2).
type PatchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []PatchOp `json:"Operations"`
}

// PatchOp is one operation; Op is compared case-insensitively (Entra
// sends "Replace", Okta "replace").
type PatchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path,omitempty"`
	Value json.RawMessage `json:"value,omitempty"`
}

func (o PatchOp) op() (string, error) {
	switch op := strings.ToLower(o.Op); op {
	case "add", "replace", "remove":
		return op, nil
	}
	return "", badRequest("invalidSyntax", "unknown PATCH op %q (add, replace, remove)", o.Op)
}

func decodeString(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", badRequest("invalidValue", "want a string value")
	}
	return s, nil
}

// emailPathRE matches emails[type eq "work"].value and emails[primary eq true].value.
var emailPathRE = regexp.MustCompile(`(?i)^emails(\[[^\]]*\])?(\.value)?$`)

// ApplyUserPatch applies PATCH operations to a user, in order. Attributes
// spendgate does not keep (phone numbers, the enterprise extension's
// department …) are accepted and ignored, as IdPs send them regardless.
func ApplyUserPatch(u *controlplane.SCIMUser, ops []PatchOp) error {
	for _, o := range ops {
		op, err := o.op()
		if err != nil {
			return err
		}
		path := strings.TrimSpace(o.Path)
		if path == "" {
			if op == "remove" {
				return badRequest("noTarget", "remove needs a path")
			}
			// Okta: {"op":"replace","value":{"active":false}}; values keyed by attribute path.
			var attrs map[string]json.RawMessage
			if err := json.Unmarshal(o.Value, &attrs); err != nil {
				return badRequest("invalidValue", "an operation without path needs an object value")
			}
			for k, v := range attrs {
				if err := setUserAttr(u, k, v, false); err != nil {
					return err
				}
			}
			continue
		}
		if err := setUserAttr(u, path, o.Value, op == "remove"); err != nil {
			return err
		}
	}
	return nil
}

func setUserAttr(u *controlplane.SCIMUser, path string, v json.RawMessage, remove bool) error {
	path = strings.TrimPrefix(path, SchemaUser+":")
	str := func(dst *string) error {
		if remove {
			*dst = ""
			return nil
		}
		s, err := decodeString(v)
		*dst = s
		return err
	}
	switch lower := strings.ToLower(path); {
	case lower == "active":
		if remove {
			return badRequest("mutability", "active cannot be removed")
		}
		var b flexBool
		if err := json.Unmarshal(v, &b); err != nil {
			return badRequest("invalidValue", "active: %v", err)
		}
		u.Active = bool(b)
	case lower == "username":
		if remove {
			return badRequest("mutability", "userName cannot be removed")
		}
		return str(&u.UserName)
	case lower == "externalid":
		return str(&u.ExternalID)
	case lower == "displayname":
		return str(&u.DisplayName)
	case lower == "name.givenname":
		return str(&u.GivenName)
	case lower == "name.familyname":
		return str(&u.FamilyName)
	case lower == "name":
		if remove {
			u.GivenName, u.FamilyName = "", ""
			return nil
		}
		var n nameJSON
		if err := json.Unmarshal(v, &n); err != nil {
			return badRequest("invalidValue", "name must be an object")
		}
		u.GivenName, u.FamilyName = n.GivenName, n.FamilyName
	case emailPathRE.MatchString(path):
		if remove {
			return nil // the account keeps its email
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			u.Email = s
			return nil
		}
		var list []multiValue
		if err := json.Unmarshal(v, &list); err != nil {
			return badRequest("invalidValue", "emails must be a list or a string")
		}
		u.Email = primaryEmail(list)
	default:
		// Unknown or unkept attributes (phoneNumbers, title, the enterprise
		// extension, roles) are ignored.
	}
	return nil
}

// GroupPatch is what PATCH operations do to a group.
type GroupPatch struct {
	DisplayName, ExternalID string
	Add, Remove             []string
	// Replace: Add is the whole new member list.
	Replace bool
}

// membersFilterRE is members[value eq "id"].
var membersFilterRE = regexp.MustCompile(`(?i)^members\[\s*value\s+eq\s+("(?:[^"\\]|\\.)*")\s*\]$`)

// ParseGroupPatch reads group PATCH operations: members add/remove
// (Okta and Entra send a value list; Okta also removes by
// members[value eq "id"]), replace of members, displayName and externalId,
// and a replace without path whose value holds them.
func ParseGroupPatch(ops []PatchOp) (GroupPatch, error) {
	var gp GroupPatch
	for _, o := range ops {
		op, err := o.op()
		if err != nil {
			return gp, err
		}
		path := strings.TrimPrefix(strings.TrimSpace(o.Path), SchemaGroup+":")
		members := func() ([]string, error) {
			var list []multiValue
			if len(o.Value) == 0 {
				return nil, nil
			}
			if err := json.Unmarshal(o.Value, &list); err != nil {
				var one multiValue
				if err := json.Unmarshal(o.Value, &one); err != nil {
					return nil, badRequest("invalidValue", "members must be a list of {\"value\": id}")
				}
				list = []multiValue{one}
			}
			ids := make([]string, 0, len(list))
			for _, m := range list {
				ids = append(ids, m.Value)
			}
			return ids, nil
		}
		switch lower := strings.ToLower(path); {
		case lower == "members":
			ids, err := members()
			if err != nil {
				return gp, err
			}
			switch op {
			case "add":
				gp.Add = append(gp.Add, ids...)
			case "remove":
				if len(o.Value) == 0 {
					gp.Replace, gp.Add = true, nil // remove all members
				}
				gp.Remove = append(gp.Remove, ids...)
			case "replace":
				gp.Replace, gp.Add, gp.Remove = true, ids, nil
			}
		case membersFilterRE.MatchString(path):
			if op != "remove" {
				return gp, badRequest("invalidPath", "members[value eq …] is supported for remove only")
			}
			id, _ := strconv.Unquote(membersFilterRE.FindStringSubmatch(path)[1])
			gp.Remove = append(gp.Remove, id)
		case lower == "displayname":
			if gp.DisplayName, err = decodeString(o.Value); err != nil {
				return gp, err
			}
		case lower == "externalid":
			if gp.ExternalID, err = decodeString(o.Value); err != nil {
				return gp, err
			}
		case lower == "":
			var g struct {
				DisplayName string       `json:"displayName"`
				ExternalID  string       `json:"externalId"`
				Members     []multiValue `json:"members"`
			}
			if err := json.Unmarshal(o.Value, &g); err != nil {
				return gp, badRequest("invalidValue", "an operation without path needs an object value")
			}
			gp.DisplayName, gp.ExternalID = g.DisplayName, g.ExternalID
			if g.Members != nil {
				gp.Replace, gp.Add = true, nil
				for _, m := range g.Members {
					gp.Add = append(gp.Add, m.Value)
				}
			}
		default:
			return gp, badRequest("invalidPath", "unsupported group path %q", o.Path)
		}
	}
	return gp, nil
}

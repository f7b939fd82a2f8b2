package scim

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/spendgate/spendgate/controlplane"
)

func TestParseFilter(t *testing.T) {
	for in, want := range map[string]Filter{
		`userName eq "ann@example.com"`:       {"userName", "ann@example.com"},
		`USERNAME EQ "a \"quoted\" name"`:     {"userName", `a "quoted" name`},
		`externalId eq "00u1abcd"`:            {"externalId", "00u1abcd"},
		`  emails.value eq "ann@example.com"`: {"emails.value", "ann@example.com"},
	} {
		got, err := ParseFilter(in, "userName", "externalId", "emails.value")
		if err != nil || got != want {
			t.Errorf("%s: %+v %v", in, got, err)
		}
	}
	for _, bad := range []string{`userName co "a"`, `userName eq ann`, `title eq "x"`, `userName eq "a" and active eq true`, `userName`} {
		if _, err := ParseFilter(bad, "userName", "externalId"); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}

func ops(t *testing.T, s string) []PatchOp {
	t.Helper()
	var p PatchRequest
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		t.Fatal(err)
	}
	return p.Operations
}

func TestApplyUserPatch(t *testing.T) {
	for name, c := range map[string]struct {
		body string
		want controlplane.SCIMUser
	}{
		"Entra deactivates with a string": {`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`,
			controlplane.SCIMUser{UserName: "u", Active: false}},
		"Okta deactivates without path": {`{"Operations":[{"op":"replace","value":{"active":false}}]}`,
			controlplane.SCIMUser{UserName: "u", Active: false}},
		"Entra attributes": {`{"Operations":[{"op":"Replace","path":"name.familyName","value":"Lee"},{"op":"Add","path":"emails[type eq \"work\"].value","value":"x@y.test"},
			{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"IT"},{"op":"Replace","path":"userName","value":"v"}]}`,
			controlplane.SCIMUser{UserName: "v", FamilyName: "Lee", Email: "x@y.test", Active: true}},
		"Okta profile without path": {`{"Operations":[{"op":"replace","value":{"name.givenName":"Ann","displayName":"Ann B"}}]}`,
			controlplane.SCIMUser{UserName: "u", GivenName: "Ann", DisplayName: "Ann B", Active: true}},
	} {
		u := controlplane.SCIMUser{UserName: "u", Active: true}
		if err := ApplyUserPatch(&u, ops(t, c.body)); err != nil || !reflect.DeepEqual(u, c.want) {
			t.Errorf("%s: %+v %v", name, u, err)
		}
	}
	for name, body := range map[string]string{
		"unknown op":      `{"Operations":[{"op":"move","path":"active","value":true}]}`,
		"active not bool": `{"Operations":[{"op":"replace","path":"active","value":"maybe"}]}`,
		"remove userName": `{"Operations":[{"op":"remove","path":"userName"}]}`,
	} {
		u := controlplane.SCIMUser{UserName: "u"}
		if err := ApplyUserPatch(&u, ops(t, body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseGroupPatch(t *testing.T) {
	gp, err := ParseGroupPatch(ops(t, `{"Operations":[{"op":"Add","path":"members","value":[{"value":"a"},{"value":"b"}]},
		{"op":"Remove","path":"members","value":[{"value":"c"}]},{"op":"remove","path":"members[value eq \"d\"]"},
		{"op":"Replace","path":"displayName","value":"New"}]}`))
	if err != nil || gp.DisplayName != "New" || len(gp.Add) != 2 || len(gp.Remove) != 2 || gp.Replace {
		t.Fatalf("%+v %v", gp, err)
	}
	gp, err = ParseGroupPatch(ops(t, `{"Operations":[{"op":"replace","value":{"id":"x","displayName":"Renamed","members":[{"value":"e"}]}}]}`))
	if err != nil || gp.DisplayName != "Renamed" || !gp.Replace || len(gp.Add) != 1 {
		t.Fatalf("Okta replace without path: %+v %v", gp, err)
	}
	if _, err := ParseGroupPatch(ops(t, `{"Operations":[{"op":"add","path":"owners","value":[]}]}`)); err == nil {
		t.Fatal("unknown path accepted")
	}
}

func FuzzPatch(f *testing.F) {
	f.Add(`{"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
	f.Add(`{"Operations":[{"op":"remove","path":"members[value eq \"d\"]"}]}`)
	f.Fuzz(func(t *testing.T, body string) {
		var p PatchRequest
		if json.Unmarshal([]byte(body), &p) != nil {
			return
		}
		u := controlplane.SCIMUser{}
		_ = ApplyUserPatch(&u, p.Operations)
		_, _ = ParseGroupPatch(p.Operations)
		_, _ = ParseFilter(body, "userName")
	})
}

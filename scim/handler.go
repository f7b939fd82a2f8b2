package scim

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/spendgate/spendgate/apierr"
	"github.com/spendgate/spendgate/controlplane"
)

// BasePath is where the endpoint is mounted.
const BasePath = "/scim/v2"

// maxBody bounds a request body (a group with thousands of members fits).
const maxBody = 1 << 20

// maxPage is the most resources one list answers.
const maxPage = 200

// Handler serves SCIM for every tenant; the bearer token picks the tenant.
type Handler struct {
	cp  *controlplane.Service
	log *slog.Logger
	mux *http.ServeMux
}

// New returns the endpoint's handler.
func New(cp *controlplane.Service, log *slog.Logger) *Handler {
	h := &Handler{cp: cp, log: log, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET "+BasePath+"/ServiceProviderConfig", h.serviceProviderConfig)
	h.mux.HandleFunc("GET "+BasePath+"/ResourceTypes", h.resourceTypes)
	h.mux.HandleFunc("GET "+BasePath+"/Schemas", h.schemas)
	h.mux.HandleFunc("GET "+BasePath+"/Users", h.tenant(h.listUsers))
	h.mux.HandleFunc("POST "+BasePath+"/Users", h.tenant(h.createUser))
	h.mux.HandleFunc("GET "+BasePath+"/Users/{id}", h.tenant(h.getUser))
	h.mux.HandleFunc("PUT "+BasePath+"/Users/{id}", h.tenant(h.putUser))
	h.mux.HandleFunc("PATCH "+BasePath+"/Users/{id}", h.tenant(h.patchUser))
	h.mux.HandleFunc("DELETE "+BasePath+"/Users/{id}", h.tenant(h.deleteUser))
	h.mux.HandleFunc("GET "+BasePath+"/Groups", h.tenant(h.listGroups))
	h.mux.HandleFunc("POST "+BasePath+"/Groups", h.tenant(h.createGroup))
	h.mux.HandleFunc("GET "+BasePath+"/Groups/{id}", h.tenant(h.getGroup))
	h.mux.HandleFunc("PUT "+BasePath+"/Groups/{id}", h.tenant(h.putGroup))
	h.mux.HandleFunc("PATCH "+BasePath+"/Groups/{id}", h.tenant(h.patchGroup))
	h.mux.HandleFunc("DELETE "+BasePath+"/Groups/{id}", h.tenant(h.deleteGroup))
	h.mux.HandleFunc(BasePath+"/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, &Error{Status: 404, Detail: "no such SCIM resource (Users, Groups, ServiceProviderConfig, ResourceTypes, Schemas)"})
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	h.mux.ServeHTTP(w, r)
}

// tenantHandler serves one SCIM operation for an authenticated tenant: it
// answers a status and the resource (nil for none), or an error that fail
// turns into SCIM's error shape.
type tenantHandler func(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error)

// tenant authenticates the request's bearer token (a tenant's SCIM token),
// passes its tenant and writes what the operation answers.
func (h *Handler) tenant(next tenantHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
			writeError(w, &Error{Status: 401, Detail: "send Authorization: Bearer <SCIM token of the tenant>"})
			return
		}
		tenantID, err := h.cp.SCIMAuthenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			h.fail(w, r, err)
			return
		}
		status, body, err := next(w, r, tenantID, baseURL(r))
		switch {
		case err != nil:
			h.fail(w, r, err)
		case body == nil:
			w.WriteHeader(status)
		default:
			writeJSON(w, status, body)
		}
	}
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + BasePath
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *Error) {
	body := map[string]any{"schemas": []string{SchemaError}, "status": strconv.Itoa(e.Status), "detail": e.Detail}
	if e.ScimType != "" {
		body["scimType"] = e.ScimType
	}
	writeJSON(w, e.Status, body)
}

// fail answers err in SCIM's error shape: client errors with their
// message, anything else as 500 "internal error" (details to the log).
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *Error
	if errors.As(err, &se) {
		writeError(w, se)
		return
	}
	var ae *apierr.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case apierr.CodeInvalidArgument:
			writeError(w, &Error{Status: 400, ScimType: "invalidValue", Detail: ae.Message})
		case apierr.CodeNotFound:
			writeError(w, &Error{Status: 404, Detail: ae.Message})
		case apierr.CodeConflict:
			scimType := "uniqueness"
			if strings.Contains(ae.Message, "owner") {
				scimType = "mutability"
			}
			writeError(w, &Error{Status: 409, ScimType: scimType, Detail: ae.Message})
		case apierr.CodeUnauthenticated:
			writeError(w, &Error{Status: 401, Detail: ae.Message})
		default:
			h.log.Error("scim: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			writeError(w, &Error{Status: 500, Detail: "internal error"})
		}
		return
	}
	h.log.Error("scim: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, &Error{Status: 500, Detail: "internal error"})
}

func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return &Error{Status: 413, Detail: "the request body is too large"}
	}
	if err := json.Unmarshal(b, v); err != nil {
		return badRequest("invalidSyntax", "the body is not valid SCIM JSON: %v", err)
	}
	return nil
}

// page reads startIndex (1-based) and count.
func page(r *http.Request) (int, int, error) {
	start, count := 1, 100
	q := r.URL.Query()
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, badRequest("invalidValue", "startIndex must be a number")
		}
		start = max(n, 1)
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, 0, badRequest("invalidValue", "count must be a number")
		}
		count = min(max(n, 0), maxPage)
	}
	return start, count, nil
}

func listResponse(resources []any, total, start int) map[string]any {
	if resources == nil {
		resources = []any{}
	}
	return map[string]any{"schemas": []string{SchemaList}, "totalResults": total, "startIndex": start, "itemsPerPage": len(resources), "Resources": resources}
}

// --- users ---

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	f, err := ParseFilter(r.URL.Query().Get("filter"), "userName", "externalId", "emails.value", "emails")
	if err != nil {
		return 0, nil, err
	}
	start, count, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	var uf controlplane.SCIMUserFilter
	switch f.Attr {
	case "userName":
		uf.UserName = f.Value
	case "externalId":
		uf.ExternalID = f.Value
	case "emails.value", "emails":
		uf.Email = f.Value
	}
	users, total, err := h.cp.ListSCIMUsers(r.Context(), tenantID, uf, start, count)
	if err != nil {
		return 0, nil, err
	}
	out := make([]any, 0, len(users))
	for _, u := range users {
		out = append(out, fromUser(base, u))
	}
	return 200, listResponse(out, total, start), nil
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	var in userJSON
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	u, err := h.cp.CreateSCIMUser(r.Context(), tenantID, in.toUser())
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", base+"/Users/"+u.ID)
	return 201, fromUser(base, u), nil
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	u, err := h.cp.GetSCIMUser(r.Context(), tenantID, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return 200, fromUser(base, u), nil
}

func (h *Handler) putUser(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	var in userJSON
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	u, err := h.cp.ReplaceSCIMUser(r.Context(), tenantID, r.PathValue("id"), in.toUser())
	if err != nil {
		return 0, nil, err
	}
	return 200, fromUser(base, u), nil
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	var p PatchRequest
	if err := decode(r, &p); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	u, err := h.cp.GetSCIMUser(ctx, tenantID, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	if err := ApplyUserPatch(&u, p.Operations); err != nil {
		return 0, nil, err
	}
	if u, err = h.cp.ReplaceSCIMUser(ctx, tenantID, u.ID, u); err != nil {
		return 0, nil, err
	}
	return 200, fromUser(base, u), nil
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request, tenantID, _ string) (int, any, error) {
	if err := h.cp.DeleteSCIMUser(r.Context(), tenantID, r.PathValue("id")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// --- groups ---

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	f, err := ParseFilter(r.URL.Query().Get("filter"), "displayName", "externalId")
	if err != nil {
		return 0, nil, err
	}
	start, count, err := page(r)
	if err != nil {
		return 0, nil, err
	}
	var name, ext string
	if f.Attr == "displayName" {
		name = f.Value
	} else {
		ext = f.Value
	}
	withMembers := !strings.Contains(strings.ToLower(r.URL.Query().Get("excludedAttributes")), "members")
	groups, total, err := h.cp.ListSCIMGroups(r.Context(), tenantID, name, ext, start, count, withMembers)
	if err != nil {
		return 0, nil, err
	}
	out := make([]any, 0, len(groups))
	for _, g := range groups {
		out = append(out, fromGroup(base, g))
	}
	return 200, listResponse(out, total, start), nil
}

func groupIn(in groupJSON) controlplane.SCIMGroup {
	g := controlplane.SCIMGroup{DisplayName: in.DisplayName, ExternalID: in.ExternalID}
	for _, m := range in.Members {
		g.Members = append(g.Members, controlplane.SCIMRef{ID: m.Value})
	}
	return g
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	var in groupJSON
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	g, err := h.cp.CreateSCIMGroup(r.Context(), tenantID, groupIn(in))
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", base+"/Groups/"+g.ID)
	return 201, fromGroup(base, g), nil
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	g, err := h.cp.GetSCIMGroup(r.Context(), tenantID, r.PathValue("id"))
	if err != nil {
		return 0, nil, err
	}
	return 200, fromGroup(base, g), nil
}

func (h *Handler) putGroup(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	var in groupJSON
	if err := decode(r, &in); err != nil {
		return 0, nil, err
	}
	if strings.TrimSpace(in.DisplayName) == "" {
		return 0, nil, badRequest("invalidValue", "displayName is required")
	}
	g := groupIn(in)
	out, err := h.cp.UpdateSCIMGroup(r.Context(), tenantID, r.PathValue("id"), g.DisplayName, g.ExternalID, refIDs(g.Members), nil, true)
	if err != nil {
		return 0, nil, err
	}
	return 200, fromGroup(base, out), nil
}

func refIDs(refs []controlplane.SCIMRef) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, r.ID)
	}
	return out
}

func (h *Handler) patchGroup(w http.ResponseWriter, r *http.Request, tenantID, base string) (int, any, error) {
	var p PatchRequest
	if err := decode(r, &p); err != nil {
		return 0, nil, err
	}
	gp, err := ParseGroupPatch(p.Operations)
	if err != nil {
		return 0, nil, err
	}
	g, err := h.cp.UpdateSCIMGroup(r.Context(), tenantID, r.PathValue("id"), gp.DisplayName, gp.ExternalID, gp.Add, gp.Remove, gp.Replace)
	if err != nil {
		return 0, nil, err
	}
	// Okta and Entra accept 204 or 200 with the resource; the resource
	// lets a client see the result.
	return 200, fromGroup(base, g), nil
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request, tenantID, _ string) (int, any, error) {
	if err := h.cp.DeleteSCIMGroup(r.Context(), tenantID, r.PathValue("id")); err != nil {
		return 0, nil, err
	}
	return http.StatusNoContent, nil, nil
}

// --- discovery (no token needed) ---

func (h *Handler) serviceProviderConfig(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, map[string]any{
		"schemas":          []string{SchemaSPConfig},
		"documentationUri": "https://github.com/spendgate/spendgate/blob/main/docs/sso.md",
		"patch":            map[string]any{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": maxPage},
		"changePassword":   map[string]any{"supported": false},
		"sort":             map[string]any{"supported": false},
		"etag":             map[string]any{"supported": false},
		"authenticationSchemes": []any{map[string]any{"type": "oauthbearertoken", "name": "OAuth Bearer Token",
			"description": "A tenant's SCIM token (createSCIMToken)", "primary": true}},
		"meta": map[string]any{"resourceType": "ServiceProviderConfig", "location": BasePath + "/ServiceProviderConfig"},
	})
}

func (h *Handler) resourceTypes(w http.ResponseWriter, _ *http.Request) {
	rt := func(id, endpoint, schema string) map[string]any {
		return map[string]any{"schemas": []string{SchemaResType}, "id": id, "name": id, "endpoint": endpoint, "schema": schema,
			"meta": map[string]any{"resourceType": "ResourceType", "location": BasePath + "/ResourceTypes/" + id}}
	}
	writeJSON(w, 200, listResponse([]any{rt("User", "/Users", SchemaUser), rt("Group", "/Groups", SchemaGroup)}, 2, 1))
}

func (h *Handler) schemas(w http.ResponseWriter, _ *http.Request) {
	attr := func(name, typ string, required bool) map[string]any {
		return map[string]any{"name": name, "type": typ, "multiValued": false, "required": required, "mutability": "readWrite", "returned": "default", "uniqueness": "none"}
	}
	multi := func(name string) map[string]any {
		a := attr(name, "complex", false)
		a["multiValued"] = true
		a["subAttributes"] = []any{attr("value", "string", false), attr("display", "string", false), attr("type", "string", false), attr("primary", "boolean", false)}
		return a
	}
	user := map[string]any{"schemas": []string{SchemaSchema}, "id": SchemaUser, "name": "User", "attributes": []any{
		attr("userName", "string", true), attr("externalId", "string", false), attr("displayName", "string", false), attr("active", "boolean", false),
		map[string]any{"name": "name", "type": "complex", "multiValued": false, "required": false, "subAttributes": []any{
			attr("givenName", "string", false), attr("familyName", "string", false), attr("formatted", "string", false)}},
		multi("emails"), multi("groups")}}
	group := map[string]any{"schemas": []string{SchemaSchema}, "id": SchemaGroup, "name": "Group", "attributes": []any{
		attr("displayName", "string", true), attr("externalId", "string", false), multi("members")}}
	writeJSON(w, 200, listResponse([]any{user, group}, 2, 1))
}

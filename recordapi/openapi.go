package recordapi

import _ "embed"

//go:embed openapi.json
var openapiDoc []byte

// OpenAPI is the API's OpenAPI 3 document (served at OpenAPIPath). Tests
// validate it and check the handlers' requests and answers against it.
func OpenAPI() []byte { return openapiDoc }

// Package deploy holds the deployment files (compose.yaml, the Helm chart
// under helm/spendgate) and their tests, which load and render them with
// compose-go, Helm's engine and the Kubernetes schema. No code lives here:
// the tests are in a package of their own so that their heavy dependencies
// are compiled only when these files are tested.
package deploy

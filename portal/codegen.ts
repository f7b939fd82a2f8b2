// Typed GraphQL documents: every graphql(`…`) in src/ is checked against the
// API's schema (schema.graphqls and the feature files in graph/schema/) and
// gets result and variable types in src/gql/ (generated, committed, never
// edited). `npm run build` runs it first, so a document that does not match
// the schema fails the build. Documents are plain strings at run time
// (documentMode "string"): no GraphQL library in the bundle.
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  schema: ["../schema.graphqls", "../graph/schema/*.graphqls"],
  documents: ["src/**/*.ts", "src/**/*.tsx", "!src/gql/**", "!src/**/*.test.ts", "!src/**/*.test.tsx"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: true,
        strictScalars: true,
        scalars: { Time: "string", Money: "string", Int64: "number" },
      },
    },
  },
};

export default config;

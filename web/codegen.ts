// GraphQL Code Generator: the dashboard's types come from the server's schema
// (the files gqlgen.yml lists), never from hand-written copies. `npm run
// codegen` writes src/gql/ (committed); `npm run build` runs it first, so CI's
// bundle drift check also fails when the schema changed and src/gql did not.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: ['../schema.graphql', '../ent.graphql', '../graph/schema/*.graphql'],
  documents: ['src/**/*.{ts,tsx}', '!src/gql/**'],
  ignoreNoDocuments: false,
  generates: {
    'src/gql/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        skipTypename: false,
        avoidOptionals: { field: true, inputValue: false, object: true, defaultValue: false },
        scalars: { Time: 'string', Cursor: 'string', Int64: 'number', Map: 'Record<string, unknown>', ID: 'string' },
        strictScalars: true,
      },
    },
  },
};

export default config;

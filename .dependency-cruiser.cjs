// Architecture boundaries, checked by `npm run boundaries` (part of the test
// command): apps never import each other, domain code stays pure, and
// packages never reach into apps.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-app-to-app',
      comment: 'Services share only packages (contracts above all), never each other.',
      severity: 'error',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'domain-is-pure',
      comment:
        'decide/evolve and value types: no adapters, no application wiring, no I/O libraries.',
      severity: 'error',
      from: { path: '/src/domain/' },
      to: {
        path: [
          '/src/(adapters|application)/',
          '/main\\.ts$',
          '^node_modules/(@grpc|kafkajs|mongodb|@opentelemetry/sdk|pino)',
          '^(fs|net|http|http2|child_process|dgram)$',
        ],
      },
    },
    {
      name: 'application-not-adapters',
      comment: 'Use cases talk to ports; adapters implement them.',
      severity: 'error',
      from: { path: '/src/application/' },
      to: { path: '/src/adapters/' },
    },
    {
      name: 'packages-not-apps',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-generated-edits-elsewhere',
      comment: 'Generated contracts are reached through @enforcement/contracts, never by path.',
      severity: 'error',
      from: { path: '^(apps|tests)/', pathNot: '^packages/contracts/' },
      to: { path: '^packages/contracts/src/gen/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    // Dependencies into node_modules and dist are recorded (the rules look at
    // them) but not followed.
    doNotFollow: { path: ['node_modules', '(^|/)dist/'] },
    exclude: { path: '(^|/)\\.turbo/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
    },
  },
};

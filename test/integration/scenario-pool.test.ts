import { describe, it } from 'node:test';
import { runExample } from './scenario-cli.ts';

describe('example pool scenarios through `liveset scenario`', () => {
  it('designated master change', (t) => runExample(t, 'pool-master-change.yaml'));
  it('a slave goes offline and comes back', (t) => runExample(t, 'pool-slave-offline.yaml'));
});

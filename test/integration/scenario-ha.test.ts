import { describe, it } from 'node:test';
import { runExample } from './scenario-cli.ts';

describe('example HA scenarios through `liveset scenario`', () => {
  it('pair start-up with waiting paused once and ha-continue', (t) => runExample(t, 'ha-pair-startup.yaml'));
  it('partner failure and recovery', (t) => runExample(t, 'ha-partner-failure.yaml'));
  it('partition and heal', (t) => runExample(t, 'ha-partition.yaml'));
  it('partition with a witness: no split brain', (t) => runExample(t, 'ha-partition-witness.yaml'));
});

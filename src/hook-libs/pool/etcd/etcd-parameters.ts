/**
 * The pool parameters' `cluster-stacks.etcd` section and the checks on it that need no etcd: PURE
 * (no etcd3 import, so pool-config can use it without loading the client).
 */
export interface EtcdStackParameters {
  readonly 'trust-anchor'?: string;
  readonly 'cert-file'?: string;
  readonly 'key-file'?: string;
  readonly user?: string;
  readonly password?: string;
  readonly 'password-file'?: string;
}

/** Keys that go together or exclude each other; each problem names the keys. */
export function etcdParameterProblems(p: EtcdStackParameters): string[] {
  const problems: string[] = [];
  const has = (k: keyof EtcdStackParameters) => p[k] !== undefined;
  if (has('cert-file') !== has('key-file')) {
    problems.push('cluster-stacks.etcd.cert-file, key-file: give both (the client certificate and its key) or neither');
  }
  if (has('password') && has('password-file')) problems.push('cluster-stacks.etcd.password, password-file: give one of them, not both');
  if (has('user') && !has('password') && !has('password-file')) {
    problems.push('cluster-stacks.etcd.user: needs password or password-file (etcd authenticates a user by its password)');
  }
  if (!has('user') && (has('password') || has('password-file'))) {
    problems.push('cluster-stacks.etcd.password: needs user (the etcd user the password belongs to)');
  }
  return problems;
}

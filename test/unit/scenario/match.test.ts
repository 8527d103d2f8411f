import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { findMismatch } from '../../../src/cli/scenario/match.ts';

describe('subset match', () => {
  const answer = {
    result: 0,
    text: 'HA state machine continues.',
    arguments: { 'ha-servers': { local: { state: 'waiting', paused: true } }, scopes: ['server1', 'server2'] },
  };

  it('ignores keys the expectation does not name', () => {
    assert.equal(findMismatch({ result: 0, arguments: { 'ha-servers': { local: { state: 'waiting' } } } }, answer), undefined);
  });

  it('names the path, the reason and both values of the first difference', () => {
    assert.deepEqual(findMismatch({ arguments: { 'ha-servers': { local: { state: 'ready' } } } }, answer), {
      path: 'arguments.ha-servers.local.state',
      expected: 'ready',
      actual: 'waiting',
      reason: 'not equal',
    });
    assert.deepEqual(findMismatch({ arguments: { missing: 1 } }, answer), { path: 'arguments.missing', expected: 1, actual: undefined, reason: 'missing' });
  });

  it('treats /pattern/flags strings as regular expressions, other strings exactly', () => {
    assert.equal(findMismatch({ text: '/continues\\.$/' }, answer), undefined);
    assert.equal(findMismatch({ text: '/CONTINUES/i' }, answer), undefined);
    assert.equal(findMismatch({ text: 'HA state machine continues' }, answer)?.reason, 'not equal');
    assert.equal(findMismatch({ text: '/^paused/' }, answer)?.reason, 'does not match /^paused/');
    assert.equal(findMismatch({ result: '/0/' }, answer)?.reason, 'expected a string matching /0/');
    assert.match(findMismatch({ text: '/(/' }, answer)?.reason ?? '', /invalid pattern/);
  });

  it('matches arrays element by element with equal length, or by $contains', () => {
    assert.equal(findMismatch({ arguments: { scopes: ['server1', 'server2'] } }, answer), undefined);
    assert.equal(findMismatch({ arguments: { scopes: ['server1'] } }, answer)?.reason, 'expected 1 elements, got 2');
    assert.equal(findMismatch({ arguments: { scopes: { $contains: ['server2'] } } }, answer), undefined);
    assert.equal(findMismatch({ arguments: { scopes: { $contains: ['server3'] } } }, answer)?.reason, 'no element matches');
    assert.equal(findMismatch([{ a: 1 }], [{ a: 1, b: 2 }]), undefined);
  });

  it('tells types apart', () => {
    assert.equal(findMismatch({ result: 0 }, [0])?.reason, 'expected an object');
    assert.equal(findMismatch([1], { 0: 1 })?.reason, 'expected an array');
    assert.equal(findMismatch({ a: null }, { a: 0 })?.reason, 'not equal');
    assert.equal(findMismatch({ a: 1 }, { a: '1' })?.reason, 'not equal');
  });
});

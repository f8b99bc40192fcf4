// resolveUser: runc's rules for "user", "uid", "user:group", ... against passwd/group text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveUser } from '../../src/containers/user.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
app:x:1000:1000::/home/app:/bin/sh
`;
const GROUP = `root:x:0:
daemon:x:1:
# comments are skipped
wheel:x:10:root,app
audio:x:29:app
www-data:x:33:
app:x:1000:
staff:x:50:
`;

test('empty user is root with root\'s home and groups', () => {
  assert.deepEqual(resolveUser('', PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [10], home: '/root' });
  assert.deepEqual(resolveUser(undefined, PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [10], home: '/root' });
});

test('no passwd file: root, home "/"', () => {
  assert.deepEqual(resolveUser('', undefined, undefined), { uid: 0, gid: 0, additionalGids: [], home: '/' });
});

test('a name gives its uid, primary gid, home and member groups', () => {
  assert.deepEqual(resolveUser('app', PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/app' });
  assert.deepEqual(resolveUser('www-data', PASSWD, GROUP), { uid: 33, gid: 33, additionalGids: [], home: '/var/www' });
});

test('a numeric uid is looked up, and allowed when absent from passwd', () => {
  assert.deepEqual(resolveUser('1000', PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [10, 29], home: '/home/app' });
  assert.deepEqual(resolveUser('4242', PASSWD, GROUP), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
  assert.deepEqual(resolveUser('4242:4343', PASSWD, GROUP), { uid: 4242, gid: 4343, additionalGids: [], home: '/' });
  assert.deepEqual(resolveUser('4242', undefined, undefined), { uid: 4242, gid: 0, additionalGids: [], home: '/' });
});

test('an explicit group replaces the primary gid and drops member groups', () => {
  assert.deepEqual(resolveUser('app:staff', PASSWD, GROUP), { uid: 1000, gid: 50, additionalGids: [], home: '/home/app' });
  assert.deepEqual(resolveUser('app:29', PASSWD, GROUP), { uid: 1000, gid: 29, additionalGids: [], home: '/home/app' });
  assert.deepEqual(resolveUser('1000:7777', PASSWD, GROUP), { uid: 1000, gid: 7777, additionalGids: [], home: '/home/app' });
});

test('unknown names fail with runc\'s wording', () => {
  assert.throws(() => resolveUser('nobody', PASSWD, GROUP), {
    message: 'unable to find user nobody: no matching entries in passwd file',
  });
  assert.throws(() => resolveUser('nobody', undefined, undefined), {
    message: 'unable to find user nobody: no matching entries in passwd file',
  });
  assert.throws(() => resolveUser('app:nogroup', PASSWD, GROUP), {
    message: 'unable to find group nogroup: no matching entries in group file',
  });
});

test('ids out of range fail', () => {
  assert.throws(() => resolveUser('-1', PASSWD, GROUP), /uids and gids must be in range/);
  assert.throws(() => resolveUser('0:99999999999', PASSWD, GROUP), /uids and gids must be in range/);
});

test('group-add appends names and numbers, failing on unknown names', () => {
  assert.deepEqual(resolveUser('app', PASSWD, GROUP, ['staff', '1234']).additionalGids, [10, 29, 50, 1234]);
  assert.throws(() => resolveUser('app', PASSWD, GROUP, ['ghosts']), {
    message: 'unable to find group ghosts: no matching entries in group file',
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDesired } from '../../agent/config/load.ts';
import type { ConfigIssue } from '../../agent/core/result.ts';
import { at, editYaml, fixtureRepo, memoryRepo, plainDecrypt } from './helpers.ts';

const ENV = 'appliances/shop-prod/env.yml';
const APPLIANCE = 'appliances/shop-prod/appliance.yml';
const APP = 'apps/shop/app.yml';
type Doc = Record<string, unknown>;

async function errorsAfter(file: string, edit: (doc: Doc) => void): Promise<ConfigIssue[]> {
  const files = editYaml(await fixtureRepo('basic'), file, edit);
  const r = await loadDesired(memoryRepo(files), 'shop-prod', { decrypt: plainDecrypt, revision: 'test' });
  if (r.ok) assert.fail('expected the configuration to be refused');
  return r.errors;
}

test('the unchanged fixture loads', async () => {
  const r = await loadDesired(memoryRepo(await fixtureRepo('basic')), 'shop-prod', {
    decrypt: plainDecrypt,
    revision: 't',
  });
  assert.equal(r.ok, true, r.ok ? '' : JSON.stringify(r.errors));
});

test('depends_on must name a service of the app', async () => {
  const errors = await errorsAfter(APP, (d) => {
    at(d, 'services.web')['depends_on'] = ['postgres', 'cache'];
  });
  assert.deepEqual(errors, [{ file: APP, path: '/services/web/depends_on/1', message: "unknown service 'cache'" }]);
});

test('a dependency cycle is refused and spelled out', async () => {
  const errors = await errorsAfter(APP, (d) => {
    at(d, 'services.postgres')['depends_on'] = ['web'];
  });
  assert.deepEqual(errors, [
    { file: APP, path: '/services/postgres/depends_on', message: 'dependency cycle: postgres → web → postgres' },
  ]);
});

test('a host port published twice is refused', async () => {
  const errors = await errorsAfter(APP, (d) => {
    at(d, 'services.redis')['ports'] = [{ container: 6379, host: 8080, host_ip: '0.0.0.0' }];
  });
  assert.deepEqual(errors, [
    {
      file: APP,
      path: '/services/web/ports/0/host',
      message: "host port 8080/tcp is already published by service 'redis'",
    },
  ]);
});

test("the reverse proxy's ports cannot be published by a service", async () => {
  const errors = await errorsAfter(APP, (d) => {
    at(d, 'services.web')['ports'] = [{ container: 8080, host: 443 }];
  });
  assert.match(errors[0]?.message ?? '', /host port 443 belongs to the appliance's reverse proxy/);
});

test('a reference to a secret env.yml does not have is refused where it is used', async () => {
  const errors = await errorsAfter(ENV, (d) => {
    delete at(d, 'app.secrets')['SIGNING_KEY'];
  });
  assert.deepEqual(errors, [
    {
      file: APP,
      path: '/services/web/secret_files/0/from',
      message: `reference 'secrets.SIGNING_KEY' is not set in ${ENV}`,
    },
  ]);
});

test('references inside templates are checked too', async () => {
  const errors = await errorsAfter(APP, (d) => {
    at(d, 'services.web.environment')['DATABASE_URL'] = {
      template: 'postgres://shop:${secrets.DB_PASS}@postgres/shop',
    };
  });
  assert.deepEqual(errors, [
    {
      file: APP,
      path: '/services/web/environment/DATABASE_URL/template',
      message: `reference 'secrets.DB_PASS' is not set in ${ENV}`,
    },
  ]);
});

test('a reference must point at a single value, not a mapping', async () => {
  const errors = await errorsAfter(APP, (d) => {
    at(d, 'services.web.environment')['TLS'] = { from: 'env.tls' };
  });
  assert.deepEqual(errors, [
    {
      file: APP,
      path: '/services/web/environment/TLS/from',
      message: `reference 'env.tls' is a mapping or list, not a single value in ${ENV}`,
    },
  ]);
});

test('appliance.yml may pin images only for services the app has', async () => {
  const errors = await errorsAfter(APPLIANCE, (d) => {
    at(d, 'images')['api'] = '127.0.0.1:5000/api:1';
  });
  assert.deepEqual(errors, [
    { file: APPLIANCE, path: '/images/api', message: `app 'shop' (${APP}) has no service 'api'` },
  ]);
});

test('every service ends up with an image', async () => {
  const errors = await errorsAfter(APP, (d) => {
    delete at(d, 'services.redis')['image'];
  });
  assert.deepEqual(errors, [
    {
      file: APPLIANCE,
      path: '/images',
      message: `no image for service 'redis': set images.redis here or services.redis.image in ${APP}`,
    },
  ]);
});

test('an invalid cron expression is refused with the reason', async () => {
  const errors = await errorsAfter(APPLIANCE, (d) => {
    at(d, 'schedules')['backup'] = '30 25 * * *';
  });
  assert.deepEqual(errors, [
    { file: APPLIANCE, path: '/schedules/backup', message: "invalid cron expression: hour: bad value '25'" },
  ]);
});

test('a missing app definition is reported at the reference', async () => {
  const errors = await errorsAfter(APPLIANCE, (d) => {
    d['app'] = 'apps/nope/app.yml';
  });
  assert.deepEqual(errors, [{ file: APPLIANCE, path: '/app', message: 'apps/nope/app.yml does not exist' }]);
});

test('a name cannot be both a setting and a secret', async () => {
  const errors = await errorsAfter(ENV, (d) => {
    at(d, 'app.settings')['SECRET_KEY'] = 'visible';
  });
  assert.deepEqual(errors, [
    { file: ENV, path: '/app/secrets/SECRET_KEY', message: "'SECRET_KEY' is in both app.settings and app.secrets" },
  ]);
});

test('client certificates need a CA from env.yml or the app', async () => {
  const errors = await errorsAfter(ENV, (d) => {
    at(d, 'tls.client_certs')['mode'] = 'mandatory';
  });
  const [first] = errors;
  assert.ok(first);
  assert.equal(first.path, '/tls/client_certs');
  assert.match(first.message, /'mandatory' but there is no CA/);
});

test('an app with a database needs migrate and migration_status', async () => {
  const errors = await errorsAfter(APP, (d) => {
    delete at(d, 'commands')['migration_status'];
  });
  assert.deepEqual(errors, [
    { file: APP, path: '/commands', message: "missing required key 'migration_status' (the app has a database)" },
  ]);
});

test('first_user in env.yml needs the first_user command', async () => {
  const errors = await errorsAfter(APP, (d) => {
    delete at(d, 'commands')['first_user'];
  });
  assert.deepEqual(errors, [
    { file: ENV, path: '/first_user', message: `app 'shop' (${APP}) has no first_user command` },
  ]);
});

test('a health check needs exactly one of http and cmd', async () => {
  const errors = await errorsAfter(APP, (d) => {
    at(d, 'services.web.healthcheck')['cmd'] = ['true'];
  });
  assert.deepEqual(errors, [
    { file: APP, path: '/services/web/healthcheck', message: "needs exactly one of 'http' or 'cmd'" },
  ]);
});

/**
 * The client set-up routes, one fastify plugin registered on both the HTTP and
 * the HTTPS listener:
 * - Mozilla autoconfig: GET /mail/config-v1.1.xml?emailaddress=… (host
 *   autoconfig.<domain>) and /.well-known/autoconfig/mail/config-v1.1.xml;
 * - Outlook Autodiscover POX: POST /autodiscover/autodiscover.xml (either case);
 * - Apple profile: GET /apple/mobileconfig?email=… (HTTPS only: a profile is
 *   only worth installing when it came over TLS).
 * A domain outside `domains` is 404. Answers never carry internal detail:
 * errors are logged and answered with a bare status (or an Autodiscover error).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../log.js';
import type { AccountResolver } from '../mail/deliver.js';
import { type AccountSetupConfig, accountSetup, MAX_ADDRESS_OCTETS, parseDomain } from './account-setup.js';
import { autodiscoverError, autodiscoverResponse, MAX_AUTODISCOVER_REQUEST_BYTES, parseAutodiscoverRequest } from './autodiscover.js';
import { clientSettings } from './client-settings.js';
import { appleMobileconfig, MOBILECONFIG_CONTENT_TYPE } from './mobileconfig.js';
import { mozillaClientConfig } from './mozilla.js';
import { profileBytes, SigningBusyError, type SigningPair } from './profile-signing.js';

export interface AutoconfigDeps {
  config: AccountSetupConfig;
  store: AccountResolver;
  log: Logger;
  /** Which listener this is: the Apple profile is served over HTTPS only. */
  scheme: 'http' | 'https';
  /** The certificate and key profiles are signed with (the current default pair), or null: unsigned. */
  signingPair: () => SigningPair | null;
}

const XML = 'application/xml; charset=utf-8';
const AUTODISCOVER_PATHS = ['/autodiscover/autodiscover.xml', '/Autodiscover/Autodiscover.xml'];
/** Host names clients ask on behalf of a domain (autoconfig.example.org, autodiscover.example.org). */
const SETUP_HOST_PREFIX = /^(autoconfig|autodiscover)\./;

/** A query parameter as one bounded string, or null (absent, repeated or too long). */
function queryText(request: FastifyRequest, name: string): string | null {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value.length <= MAX_ADDRESS_OCTETS ? value : null;
}

function notFound(reply: FastifyReply): FastifyReply {
  return reply.code(404).type('text/plain; charset=utf-8').send('Not found\n');
}

function routes(deps: AutoconfigDeps) {
  const { config, store } = deps;

  async function mozilla(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const address = queryText(request, 'emailaddress');
    if (address !== null) {
      const setup = await accountSetup(config, store, address);
      if (setup === null) return notFound(reply);
      return reply.type(XML).send(mozillaClientConfig(setup.settings, setup));
    }
    // Without an address the domain is the one the client asked for: autoconfig.<domain> or <domain>.
    const domain = parseDomain(request.hostname.replace(SETUP_HOST_PREFIX, ''));
    const settings = domain === null ? null : clientSettings(config, domain);
    if (settings === null) return notFound(reply);
    return reply.type(XML).send(mozillaClientConfig(settings, null));
  }

  async function autodiscover(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    reply.type(XML);
    const parsed = parseAutodiscoverRequest(typeof request.body === 'string' ? request.body : '');
    if (!parsed.ok) return reply.send(autodiscoverError(parsed.error));
    const setup = await accountSetup(config, store, parsed.address);
    if (setup === null) return reply.code(404).send(autodiscoverError('invalidRequest'));
    return reply.send(autodiscoverResponse(setup));
  }

  async function apple(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const address = queryText(request, 'email');
    const setup = address === null ? null : await accountSetup(config, store, address);
    const profile = setup === null ? null : appleMobileconfig(setup, config.hostname);
    if (setup === null || profile === null) return notFound(reply);
    let body: Buffer;
    try {
      ({ body } = await profileBytes(profile, deps.signingPair()));
    } catch (err) {
      if (!(err instanceof SigningBusyError)) throw err;
      return reply.code(503).header('retry-after', '5').type('text/plain; charset=utf-8').send('Busy, try again in a few seconds\n');
    }
    const filename = `${setup.address.replace(/[^A-Za-z0-9._@-]/g, '_')}.mobileconfig`;
    return reply.type(MOBILECONFIG_CONTENT_TYPE).header('content-disposition', `attachment; filename="${filename}"`).send(body);
  }

  return { mozilla, autodiscover, apple };
}

/** Registers the client set-up routes on `app` in their own encapsulated scope (body parser, error handler). */
export function registerAutoconfigRoutes(app: FastifyInstance, deps: AutoconfigDeps): void {
  app.register(async (scope) => {
    const handlers = routes(deps);
    // Answers depend on the address and the accounts: never cached by intermediaries.
    scope.addHook('onSend', async (_request, reply) => {
      reply.header('cache-control', 'no-store');
    });
    // Autodiscover bodies are XML whatever Content-Type the client claims; bounded before parsing.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: MAX_AUTODISCOVER_REQUEST_BYTES }, (_request, body, done) => done(null, body));
    scope.setErrorHandler((err: Error & { statusCode?: number }, request, reply) => {
      const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (status === 500) deps.log.error({ url: request.url, problem: err.message }, 'client set-up request failed');
      if (AUTODISCOVER_PATHS.includes(request.routeOptions.url ?? '')) {
        return reply
          .code(status === 500 ? 500 : 200)
          .type(XML)
          .send(autodiscoverError('invalidRequest'));
      }
      return reply
        .code(status)
        .type('text/plain; charset=utf-8')
        .send(status === 500 ? 'Internal error\n' : 'Bad request\n');
    });
    scope.get('/mail/config-v1.1.xml', handlers.mozilla);
    scope.get('/.well-known/autoconfig/mail/config-v1.1.xml', handlers.mozilla);
    for (const path of AUTODISCOVER_PATHS) scope.post(path, handlers.autodiscover);
    if (deps.scheme === 'https') scope.get('/apple/mobileconfig', handlers.apple);
  });
}

/**
 * The client set-up routes of a test server on real HTTP and HTTPS listeners
 * (loopback, free ports), built from the server's own configuration and store
 * with the certificate it serves.
 */
import { readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import { registerAutoconfigRoutes } from '../../src/autoconfig/routes.js';
import type { TestServer } from './server.js';

export interface AutoconfigWeb {
  http: string;
  https: string;
  stop(): Promise<void>;
}

export async function startAutoconfigWeb(server: TestServer, certFile: string, keyFile: string): Promise<AutoconfigWeb> {
  const cert = readFileSync(certFile);
  const key = readFileSync(keyFile);
  const pair = { x509: new X509Certificate(cert), cert, key };
  const deps = { config: server.config, store: server.server.store, log: pino({ level: 'silent' }), signingPair: () => pair };
  const plain: FastifyInstance = Fastify();
  registerAutoconfigRoutes(plain, { ...deps, scheme: 'http' });
  const secure = Fastify({ https: { key, cert } }) as unknown as FastifyInstance;
  registerAutoconfigRoutes(secure, { ...deps, scheme: 'https' });
  const http = await plain.listen({ host: '127.0.0.1', port: 0 });
  const https = await secure.listen({ host: '127.0.0.1', port: 0 });
  return {
    http,
    https,
    async stop() {
      await Promise.all([plain.close(), secure.close()]);
    },
  };
}

import type { FastifyInstance } from 'fastify'
import { PARTITIONED, READ_TYPES, SEARCH_TYPES } from './catalog.js'
import { SUPPORTED_SCOPES, fhirBasePath, type SandboxContext } from './context.js'
import { sendFhir } from './fhir-reply.js'

/** SMART App Launch §2.1 configuration, shaped like a Healow practice's. */
export function smartConfiguration (ctx: SandboxContext): Record<string, unknown> {
  const u = ctx.urls
  return {
    issuer: u.issuer,
    jwks_uri: u.jwks,
    authorization_endpoint: u.authorize,
    token_endpoint: u.token,
    // Healow: "symmetric" clients authenticate with HTTP Basic only.
    token_endpoint_auth_methods_supported: ['client_secret_basic'],
    grant_types_supported: ['authorization_code', 'refresh_token'],
    scopes_supported: SUPPORTED_SCOPES,
    response_types_supported: ['code'],
    capabilities: [
      'launch-standalone', 'client-public', 'client-confidential-symmetric', 'context-standalone-patient',
      'permission-offline', 'permission-patient', 'sso-openid-connect'
    ],
    code_challenge_methods_supported: ['S256']
  }
}

/** OpenID discovery on the issuer, for clients that verify the id_token issuer that way. */
export function openidConfiguration (ctx: SandboxContext): Record<string, unknown> {
  const smart = smartConfiguration(ctx)
  return {
    ...smart,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nonce', 'fhirUser']
  }
}

/** Search parameters per type; `_lastUpdated` is deliberately absent, as at Healow. */
function searchParams (type: string): Array<{ name: string, type: string }> {
  if (type === 'Patient') return [{ name: '_id', type: 'token' }]
  const params = [{ name: 'patient', type: 'reference' }]
  const required = PARTITIONED[type]
  if (required !== undefined) params.push({ name: required.param, type: 'token' })
  return params
}

/** The CapabilityStatement with the SMART `oauth-uris` extension (authorize, token). */
export function capabilityStatement (ctx: SandboxContext): Record<string, unknown> {
  const types = [...new Set([...SEARCH_TYPES, ...READ_TYPES, 'Provenance'])].sort()
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2024-11-01T00:00:00-05:00',
    publisher: ctx.options.practiceName,
    kind: 'instance',
    software: { name: 'FHIR Server', version: '4.0.1' },
    implementation: { description: ctx.options.practiceName, url: ctx.urls.fhirBase },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [{
      mode: 'server',
      security: {
        extension: [{
          url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
          extension: [{ url: 'authorize', valueUri: ctx.urls.authorize }, { url: 'token', valueUri: ctx.urls.token }]
        }],
        service: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }], text: 'OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)' }]
      },
      resource: types.map((type) => ({
        type,
        interaction: [{ code: 'read' }, ...((SEARCH_TYPES as readonly string[]).includes(type) || type === 'Patient' ? [{ code: 'search-type' }] : [])],
        searchParam: type === 'Provenance' ? [{ name: '_id', type: 'token' }] : (READ_TYPES as readonly string[]).includes(type) && type !== 'Patient' ? [] : searchParams(type)
      }))
    }]
  }
}

/** Discovery routes: the practice's smart-configuration and metadata, and the issuer's OpenID configuration. */
export function registerDiscovery (app: FastifyInstance, ctx: SandboxContext): void {
  const base = fhirBasePath(ctx.options.practiceCode)
  app.get(`${base}/.well-known/smart-configuration`, async (_request, reply) => {
    if (ctx.traffic.faults.discoveryMissing === true) return await reply.code(404).send({ error: 'not_found' })
    return await reply.header('cache-control', 'no-cache').send(smartConfiguration(ctx))
  })
  app.get(`${base}/metadata`, async (_request, reply) => sendFhir(reply, 200, capabilityStatement(ctx)))
  app.get('/oauth/.well-known/openid-configuration', async (_request, reply) => await reply.send(openidConfiguration(ctx)))
}

import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod'

/** The JSON body of every error the plugin answers with. */
export interface ErrorBody {
  statusCode: number
  code: string
  error: string
  message: string
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 409: 'Conflict', 429: 'Too Many Requests',
  500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout'
}

export function errorBody (statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, code, error: STATUS_TEXT[statusCode] ?? 'Error', message }
}

/**
 * One error shape for the plugin's routes. Our coded errors (HEALOW_ERR_*)
 * carry safe messages; anything else that is a 5xx is logged and answered
 * with a generic message, so no upstream text or stack reaches a client.
 */
export function handleError (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (hasZodFastifySchemaValidationErrors(error)) {
    const details = error.validation.map((v) => {
      const where = v.instancePath.replace(/^\//, '').replace(/\//g, '.')
      return `${error.validationContext ?? 'request'}${where !== '' ? `.${where}` : ''}: ${v.message}`
    })
    void reply.code(400).send(errorBody(400, 'HEALOW_ERR_BAD_REQUEST', details.join('; ')))
    return
  }
  const status = typeof error.statusCode === 'number' && error.statusCode >= 400 ? error.statusCode : 500
  const ours = typeof error.code === 'string' && error.code.startsWith('HEALOW_ERR_')
  if (status >= 500) {
    request.log.error({ err: { code: error.code, name: error.name, message: ours ? error.message : undefined } }, 'request failed')
  }
  if (ours || status < 500) {
    void reply.code(status).send(errorBody(status, error.code ?? 'HEALOW_ERR_REQUEST', error.message))
    return
  }
  void reply.code(500).send(errorBody(500, 'HEALOW_ERR_INTERNAL', 'Something went wrong on our side; try again later'))
}

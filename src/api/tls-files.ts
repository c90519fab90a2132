/**
 * The TLS files of the configuration, checked before anything listens (at
 * `flowlens config --check` and at start): each must hold what its setting
 * says — a PEM certificate, a private key, the key of that certificate — and a
 * refusal names the file and what is wrong, not OpenSSL's text.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { FlowlensError } from '../errors.js';
import { readPem } from './grpc/server.js';

const refuse = (message: string, hint: string) => new FlowlensError('FLOW_ERR_USAGE', message, hint);

/** What a PEM text holds, by its first BEGIN line ("a private key", "a certificate"), for the messages. */
function holds(pem: string): string {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem);
  if (!m) return 'no PEM block';
  return /PRIVATE KEY/.test(m[1]!) ? 'a private key' : /CERTIFICATE/.test(m[1]!) ? 'a certificate' : `a PEM "${m[1]}" block`;
}

function certificate(file: string, text: Buffer, what: string, setting: string): X509Certificate {
  if (!text.toString('utf8').trim()) throw refuse(`the ${what} ${file} is empty`, `${setting} must name a PEM certificate file`);
  try {
    return new X509Certificate(text);
  } catch {
    throw refuse(`the ${what} ${file} does not hold a PEM certificate (it holds ${holds(text.toString('utf8'))})`,
      `${setting} must name a file starting "-----BEGIN CERTIFICATE-----"${/PRIVATE KEY/.test(text.toString('utf8')) ? ' (are --tls-cert and --tls-key swapped?)' : ''}`);
  }
}

function privateKey(file: string, text: Buffer): KeyObject {
  if (!text.toString('utf8').trim()) throw refuse(`the TLS key ${file} is empty`, '--tls-key must name the PEM private key of the certificate');
  try {
    return createPrivateKey(text);
  } catch {
    throw refuse(`the TLS key ${file} does not hold an unencrypted PEM private key (it holds ${holds(text.toString('utf8'))})`,
      `--tls-key must name a file starting "-----BEGIN PRIVATE KEY-----"${/CERTIFICATE/.test(text.toString('utf8')) ? ' (are --tls-cert and --tls-key swapped?)' : ''}`);
  }
}

/** Reads and checks the certificate and key files (and the client CA): PEM texts for the servers. */
export function readTlsFiles(tls: { cert: string; key: string }, clientCa?: string): { cert: Buffer; key: Buffer; clientCa?: Buffer } {
  const cert = readPem(tls.cert, 'TLS certificate');
  const key = readPem(tls.key, 'TLS key');
  const x509 = certificate(tls.cert, cert, 'TLS certificate', '--tls-cert');
  const k = privateKey(tls.key, key);
  if (!x509.checkPrivateKey(k)) {
    throw refuse(`the TLS key ${tls.key} is not the key of the certificate ${tls.cert}`, 'give the private key the certificate was made for (openssl x509 -noout -pubkey and openssl pkey -pubout print the same public key)');
  }
  if (clientCa === undefined) return { cert, key };
  const ca = readPem(clientCa, 'gRPC client CA');
  certificate(clientCa, ca, 'gRPC client CA', '--grpc-client-ca');
  return { cert, key, clientCa: ca };
}

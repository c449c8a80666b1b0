#!/usr/bin/env bash
# Makes a development certificate authority and the certificates a TLS farm needs, with the
# openssl command line (ECDSA P-256, PEM, private keys in PKCS#8):
#
#   ca.pem                 the CA certificate: give it to workers and clients (--ca-file) and,
#                          for mutual TLS, to the coordinator (--client-ca)
#   ca.key                 the CA's private key: keep it (or delete it) — it signs new certificates
#   server.pem server.key  the coordinator's certificate (--tls-cert/--tls-key), valid for the
#                          names `coordinator` and `localhost` and the address 127.0.0.1, plus any
#                          names given in CHIRPFARM_TLS_SANS (e.g. "DNS:lab1,IP:10.0.0.5")
#   worker.pem worker.key  a worker's client certificate (chirpfarm-worker --tls-cert/--tls-key)
#
#   deploy/tls/make-dev-ca.sh OUT_DIR [DAYS]
#
# DAYS: validity (default 825). This is a development CA: for production use your
# organisation's CA, or at least keep ca.key offline. The key files are written with mode 0600;
# containers that run as another user need them readable (see deploy/test-cluster.sh).
# tests/fixtures/tls/ was made with `deploy/tls/make-dev-ca.sh tests/fixtures/tls 36500`.
set -euo pipefail

out="${1:?usage: make-dev-ca.sh OUT_DIR [DAYS]}"
days="${2:-825}"
command -v openssl >/dev/null 2>&1 || { echo "error: openssl not found" >&2; exit 2; }
mkdir -p "$out"
cd "$out"
umask 077
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# The CA: a self-signed certificate that may only sign other certificates.
key ca.key
openssl req -x509 -new -key ca.key -sha256 -days "$days" -subj "/CN=chirpfarm dev CA" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out ca.pem

# sign NAME CN EXTENSIONS: a leaf certificate signed by the CA.
sign() {
    local name="$1" cn="$2" ext="$3"
    key "$name.key"
    openssl req -new -key "$name.key" -subj "/CN=$cn" -out "$tmp/$name.csr"
    printf '%b\n' "$ext" >"$tmp/$name.ext"
    openssl x509 -req -in "$tmp/$name.csr" -CA ca.pem -CAkey ca.key -CAcreateserial \
        -CAserial "$tmp/ca.srl" -sha256 -days "$days" -extfile "$tmp/$name.ext" \
        -out "$name.pem" 2>/dev/null
}

sans="DNS:coordinator,DNS:localhost,IP:127.0.0.1${CHIRPFARM_TLS_SANS:+,$CHIRPFARM_TLS_SANS}"
leaf="basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nauthorityKeyIdentifier=keyid"
sign server chirpfarm-coordinator "$leaf\nextendedKeyUsage=serverAuth\nsubjectAltName=$sans"
sign worker chirpfarm-worker "$leaf\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:chirpfarm-worker"

chmod 0644 ca.pem server.pem worker.pem
echo "wrote $(pwd)/{ca,server,worker}.{pem,key} (valid $days days; server names: $sans)" >&2

#ifndef PETITION_RPC_CCRYPTO_SHIM_H
#define PETITION_RPC_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto: SHA-256 (it uses the CPU's SHA extensions where present, which makes
   hashing a large export a small part of its cost), HMAC-SHA-256 for the suppression list, and
   the system's random generator for confirmation tokens and store secrets. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#endif

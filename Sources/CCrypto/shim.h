#ifndef PETITION_RPC_CCRYPTO_SHIM_H
#define PETITION_RPC_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto: SHA-256 (it uses the CPU's SHA extensions where present, which makes
   hashing a large export a small part of its cost), HMAC-SHA-256 for the suppression list, and
   the system's random generator for confirmation tokens and store secrets. */
/* SHA256_Init/Update/Final (deprecated in OpenSSL 3 but kept): their context is a plain struct,
   so HMAC's prepared key states are copied as values instead of duplicated through the
   provider machinery (EVP_MD_CTX_copy_ex allocates and costs ~7,000 instructions a message). */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#endif

#ifndef PETITION_RPC_CCRYPTO_SHIM_H
#define PETITION_RPC_CCRYPTO_SHIM_H
/* OpenSSL's libcrypto, for SHA-256 only: it uses the CPU's SHA extensions where present, which
   makes hashing a large export a small part of its cost. */
#include <openssl/evp.h>
#endif

#ifndef PETITION_RPC_CPOSTGRES_SHIM_H
#define PETITION_RPC_CPOSTGRES_SHIM_H
#include <libpq-fe.h>
#endif

/*
 * The floor for the JSON-RPC engine: a plain C loop over jansson that reads requests framed as
 * NDJSON or with Content-Length headers (detected per message, like petition-rpc), parses each
 * with json_loadb, answers {"jsonrpc":"2.0","id":ID,"result":{"petitions":[]}} with json_dumpb,
 * in the request's framing, and flushes per read. No store, no validation: what is left of
 * petition-rpc's cost above this is the engine's.
 *
 *   cc -O2 benchmarks/jansson_loop.c $(pkg-config --cflags --libs jansson) -o benchmarks/bin/jansson_loop
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static char *in;
static size_t in_len, in_cap;
static char *out;
static size_t out_len, out_cap;

static void out_append(const char *p, size_t n) {
  if (out_len + n > out_cap) {
    out_cap = (out_len + n) * 2;
    out = realloc(out, out_cap);
  }
  memcpy(out + out_len, p, n);
  out_len += n;
}

static void flush_out(void) {
  size_t off = 0;
  while (off < out_len) {
    ssize_t w = write(1, out + off, out_len - off);
    if (w <= 0) exit(1);
    off += (size_t)w;
  }
  out_len = 0;
}

static void answer(const char *body, size_t n, int framed) {
  json_error_t error;
  json_t *request = json_loadb(body, n, JSON_DECODE_ANY, &error);
  json_t *response = json_object();
  json_object_set_new(response, "jsonrpc", json_string("2.0"));
  json_t *id = request ? json_object_get(request, "id") : NULL;
  json_object_set(response, "id", id ? id : json_null());
  json_t *result = json_object();
  json_object_set_new(result, "petitions", json_array());
  json_object_set_new(response, "result", result);
  char buffer[512];
  size_t size = json_dumpb(response, buffer, sizeof buffer, JSON_COMPACT);
  if (framed) {
    char header[64];
    int h = snprintf(header, sizeof header, "Content-Length: %zu\r\n\r\n", size);
    out_append(header, (size_t)h);
    out_append(buffer, size);
  } else {
    out_append(buffer, size);
    out_append("\n", 1);
  }
  json_decref(response);
  json_decref(request);
}

int main(void) {
  in_cap = 1 << 20;
  in = malloc(in_cap);
  for (;;) {
    if (in_len == in_cap) {
      in_cap *= 2;
      in = realloc(in, in_cap);
    }
    ssize_t r = read(0, in + in_len, in_cap - in_len);
    if (r <= 0) break;
    in_len += (size_t)r;
    size_t pos = 0;
    for (;;) {
      if (pos < in_len && (in[pos] == '\n' || in[pos] == '\r')) { pos++; continue; }
      if (in_len - pos >= 15 && strncasecmp(in + pos, "Content-Length:", 15) == 0) {
        char *end = memmem(in + pos, in_len - pos, "\r\n\r\n", 4);
        if (!end) break;
        size_t n = strtoul(in + pos + 15, NULL, 10);
        size_t body = (size_t)(end - in) + 4;
        if (in_len - body < n) break;
        answer(in + body, n, 1);
        pos = body + n;
      } else {
        char *nl = memchr(in + pos, '\n', in_len - pos);
        if (!nl) break;
        answer(in + pos, (size_t)(nl - (in + pos)), 0);
        pos = (size_t)(nl - in) + 1;
      }
    }
    memmove(in, in + pos, in_len - pos);
    in_len -= pos;
    flush_out();
  }
  flush_out();
  return 0;
}

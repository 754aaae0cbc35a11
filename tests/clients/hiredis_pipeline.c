/* A tiny hiredis client: pipelines N SETs then N GETs and checks every reply.
 * usage: hiredis_pipeline PORT N ; exit 0 when every reply is as expected. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s PORT N\n", argv[0]);
    return 2;
  }
  int port = atoi(argv[1]);
  int n = atoi(argv[2]);
  struct timeval tv = {10, 0};
  redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
  if (c == NULL || c->err) {
    fprintf(stderr, "connect: %s\n", c ? c->errstr : "out of memory");
    return 1;
  }
  redisSetTimeout(c, tv);
  char key[64], val[64];
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "hiredis:%d", i);
    snprintf(val, sizeof val, "value-%d", i * 7);
    redisAppendCommand(c, "SET %s %s", key, val);
  }
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "hiredis:%d", i);
    redisAppendCommand(c, "GET %s", key);
  }
  int bad = 0;
  for (int i = 0; i < 2 * n; i++) {
    redisReply* r = NULL;
    if (redisGetReply(c, (void**)&r) != REDIS_OK || r == NULL) {
      fprintf(stderr, "reply %d: %s\n", i, c->errstr);
      return 1;
    }
    if (i < n) {
      if (r->type != REDIS_REPLY_STATUS || strcmp(r->str, "OK") != 0) bad++;
    } else {
      snprintf(val, sizeof val, "value-%d", (i - n) * 7);
      if (r->type != REDIS_REPLY_STRING || strcmp(r->str, val) != 0) {
        if (bad < 5) fprintf(stderr, "GET %d: type %d\n", i - n, r->type);
        bad++;
      }
    }
    freeReplyObject(r);
  }
  redisReply* r = redisCommand(c, "DBSIZE");
  if (r == NULL || r->type != REDIS_REPLY_INTEGER || r->integer < n) bad++;
  if (r) freeReplyObject(r);
  redisFree(c);
  printf("ok %d commands, %d bad\n", 2 * n, bad);
  return bad == 0 ? 0 : 1;
}

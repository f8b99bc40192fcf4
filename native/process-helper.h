// What native/ns-exec.c shares with the process helper's loop in native/runtime-launcher.c.
#ifndef BERTH_PROCESS_HELPER_H
#define BERTH_PROCESS_HELPER_H
#include <stddef.h>

struct buffer { char *data; size_t length, capacity; };

void append(struct buffer *buffer, const char *data, size_t length);
// One reply to berthd, written whole under the helper's lock.
void reply(const char *header, const char *first, size_t first_length, const char *second, size_t second_length);
void reply_end(const char *id, int status, const struct buffer *out, const struct buffer *err);
void reply_error(const char *id, const char *what, int error);

// nsexec: see native/ns-exec.c.
void serve_nsexec(const char *id, char **fields, int count);

#endif

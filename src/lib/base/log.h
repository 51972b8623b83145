/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging for long-running programs (proxy, key service, monitor): one line
 * per event on stderr, "<program>: <level>: <message>". The level comes from
 * CLOISTER_LOG (error, warn, info, debug; default warn, as AWS runs its proxy
 * with RUST_LOG=warn). Library modules never log; programs do.
 */
#ifndef CLOISTER_LOG_H
#define CLOISTER_LOG_H

enum log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

/* Sets the program name and reads CLOISTER_LOG. Call once from main(). */
void log_init(const char *program);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif

// The connection holder's protocol, one place for both sides: holder.c
// answers (C, built on its own), ConnectionHolder.ask (Swift) asks. One
// SOCK_SEQPACKET message each way; a number follows some words after a space.
#ifndef NSFS_HOLDER_PROTOCOL_H
#define NSFS_HOLDER_PROTOCOL_H

// Requests.
#define NSFS_HOLDER_TAKE "take"       // the descriptor (SCM_RIGHTS) and "ok", or "busy PID"
#define NSFS_HOLDER_SERVE "serve"     // "serve PID": PID serves from now on
#define NSFS_HOLDER_END "end"         // the mount ended on purpose: exit
#define NSFS_HOLDER_WHO "who"         // "serving PID" or "none"
#define NSFS_HOLDER_PID "pid"         // "pid PID": the holder's own

// Answers.
#define NSFS_HOLDER_OK "ok"
#define NSFS_HOLDER_BUSY "busy"
#define NSFS_HOLDER_SERVING "serving"
#define NSFS_HOLDER_NONE "none"
#define NSFS_HOLDER_ERROR "error"

#endif

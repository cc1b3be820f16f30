/*
 * commands.h - drover-worker's verbs, one file each (cmd_<verb>.c).  Each
 * takes the arguments after the verb and returns the process exit code.
 */
#ifndef DROVER_WORKER_COMMANDS_H
#define DROVER_WORKER_COMMANDS_H

#include "program.h"

/*
 * Exit codes of the verbs: program.h's 0, 1 (for apply: the job ran and
 * failed) and 2, and these.
 */
enum {
    DR_EXIT_REJECTED = 3,  /* the job would not run (bad input, no file for the platform) */
    DR_EXIT_TIMED_OUT = 4, /* a script passed its timeout */
};

int cmd_apply(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif

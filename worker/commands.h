/*
 * commands.h - drover-worker's verbs, one file each (cmd_<verb>.c).  Each
 * takes the arguments after the verb and returns the process exit code.
 */
#ifndef DROVER_WORKER_COMMANDS_H
#define DROVER_WORKER_COMMANDS_H

#include "program.h"

/*
 * The verbs exit with program.h's codes: apply 0 when the job succeeded on
 * every target, 1 failed, 2 a bad request, 3 rejected (the job would not
 * run: bad input, no file for the platform), 4 a script passed its timeout.
 */

int cmd_apply(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif

/* Subcommands of the `tightrope` command: each parses its arguments and calls the library. */
#ifndef TIGHTROPE_CLI_H
#define TIGHTROPE_CLI_H

int cmd_target(int argc, char **argv);
int cmd_ctl(int argc, char **argv);
int cmd_discover(int argc, char **argv);
int cmd_id_ctrl(int argc, char **argv);

#endif

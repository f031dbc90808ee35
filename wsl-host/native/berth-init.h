/* What berth-init's modes share with the native berth-wsl entry (wsl-entry.c). */
#ifndef BERTH_INIT_H
#define BERTH_INIT_H

/* Exit code of `exec` when the distro's init is gone: the caller starts it again. */
#define EXIT_DISTRO_GONE 250

/* `exec --pid N --start-time T --lock F --uid U --gid G [--groups a,b] [--cwd DIR] -- ARGV...`
 * with argv[0] the program and argv[1] "exec". Returns EXIT_DISTRO_GONE before it has
 * entered anything when the init is gone, else the command's exit code. */
int cmd_exec(int argc, char **argv);

/* Set by cmd_exec once it starts entering the distro: after that, 250 is the command's own. */
extern int exec_entered;

/* Field 22 of /proc/PID/stat (clock ticks after boot), 0 when the process is gone. */
unsigned long long process_start_time(int pid);

/* berth-init's own modes (start, pid1, exec, private-except, relay). */
int berth_init_main(int argc, char **argv);

/* bin/berth-wsl is a link to this binary: `--exec` into a running distro without Node. */
int wsl_entry(int argc, char **argv);

#endif

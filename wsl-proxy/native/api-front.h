/* berth-relay api: the native front of a distro's Docker API proxy (see api-front.c). */
#ifndef BERTH_API_FRONT_H
#define BERTH_API_FRONT_H

/* argv as berth-relay's own: argv[1] is "api". Returns the exit status. */
int api_front_main(int argc, char **argv);

#endif

/* SPDX-License-Identifier: MIT */
/* sh_err.c - descriptions and names of the swarmheal error codes */
#include "sh_err.h"

const char *sh_strerror(sh_err e)
{
	switch (e) {
#define SH_ERR_DESC(name, num, desc) case SH_E_##name: return desc;
	SH_ERRORS(SH_ERR_DESC)
#undef SH_ERR_DESC
	}
	return "unknown error";
}

const char *sh_errname(sh_err e)
{
	switch (e) {
#define SH_ERR_NAME(name, num, desc) case SH_E_##name: return #name;
	SH_ERRORS(SH_ERR_NAME)
#undef SH_ERR_NAME
	}
	return "UNKNOWN";
}

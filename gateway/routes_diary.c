/*
 * routes_diary.c — the /diaries routes of API.md, forwarded to td-diary.
 */
#include "router.h"

const struct gw_route gw_routes_diary[] = {
    {NULL, NULL, NULL, GW_AUTH_NONE, 0},
};

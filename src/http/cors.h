/* cors.h - which other origins may call the API from a browser
 * (http.cors_origins: exact origins, comma-separated, checked by conf.c;
 * none by default).
 * Pure.  Only embed tokens travel cross-origin: no credentials mode. */
#ifndef EXPORTD_CORS_H
#define EXPORTD_CORS_H

/* 1 when origin (the Origin header, NULL when absent) is one of list's. */
int cors_allowed(const char *list, const char *origin);

#endif

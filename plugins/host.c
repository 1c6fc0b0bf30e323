/* host: a plugin is refused — with one line saying why — when its file or directory is writable by
 * others, it cannot be loaded, it lacks the entry symbol or a required function, its ABI major
 * differs or its minor is newer than ours, its name is taken, or its init fails. The dashboard goes on. */
#include "host.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static tt_plugin *add(tt_plugins *ps, const char *path)
{
    for (int i = 0; i < ps->n; i++)
        if (!strcmp(ps->v[i].path, path)) return NULL;          /* found twice: once is enough */
    tt_plugin *nv = realloc(ps->v, (size_t)(ps->n + 1) * sizeof *nv);
    if (!nv) return NULL;
    ps->v = nv;
    tt_plugin *p = &ps->v[ps->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->path, sizeof p->path, "%s", path);
    const char *base = strrchr(path, '/');
    snprintf(p->name, sizeof p->name, "%s", base ? base + 1 : path);
    return p;
}

static int refuse(tt_plugin *p, const char *fmt, const char *arg)
{
    snprintf(p->why, sizeof p->why, fmt, arg ? arg : "");
    p->loaded = 0;
    return -1;
}

/* Code that others can replace must not run in the user's dashboard. */
static int location_safe(tt_plugin *p)
{
    struct stat st;
    if (stat(p->path, &st)) return refuse(p, "cannot read it: %s", strerror(errno));
    if (!S_ISREG(st.st_mode)) return refuse(p, "not a regular file%s", NULL);
    if (st.st_mode & S_IWOTH) return refuse(p, "refused: the file is world-writable%s", NULL);
    char dir[512];
    snprintf(dir, sizeof dir, "%s", p->path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
    if (stat(dir[0] ? dir : "/", &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
        return refuse(p, "refused: its directory is world-writable%s", NULL);
    return 0;
}

static int open_one(tt_plugin *p, const tt_plugins *ps, const tt_plugin_services *svc)
{
    if (location_safe(p)) return -1;
    if (!(p->dl = dlopen(p->path, RTLD_NOW | RTLD_LOCAL))) return refuse(p, "cannot load: %s", dlerror());
    tt_plugin_entry_fn entry;
    *(void **)&entry = dlsym(p->dl, TT_PLUGIN_ENTRY);
    if (!entry) return refuse(p, "refused: missing symbol %s", TT_PLUGIN_ENTRY);
    const tt_plugin_desc *d = entry();
    if (!d || d->size < offsetof(tt_plugin_desc, fini) + sizeof d->fini) return refuse(p, "refused: its descriptor is missing or too small%s", NULL);
    char ver[96];
    snprintf(ver, sizeof ver, "%d.%d, host %d.%d", d->abi_major, d->abi_minor, TT_PLUGIN_ABI_MAJOR, TT_PLUGIN_ABI_MINOR);
    if (d->abi_major != TT_PLUGIN_ABI_MAJOR) return refuse(p, "refused: ABI %s (the major version must match)", ver);
    if (d->abi_minor > TT_PLUGIN_ABI_MINOR) return refuse(p, "refused: ABI %s (built for a newer host)", ver);
    if (!d->name || !d->name[0] || strlen(d->name) >= sizeof p->name) return refuse(p, "refused: no name%s", NULL);
    if (!d->draw) return refuse(p, "refused: missing function draw%s", NULL);
    for (const tt_plugin *o = ps->v; o < p; o++)
        if (o->loaded && !strcmp(o->desc->name, d->name)) return refuse(p, "refused: the name '%s' is taken", d->name);
    snprintf(p->name, sizeof p->name, "%s", d->name);
    p->desc = d;
    if (d->init && d->init(svc, &p->state) != 0) { p->desc = NULL; return refuse(p, "refused: init failed%s", NULL); }
    p->loaded = 1;
    snprintf(p->why, sizeof p->why, "loaded (ABI %d.%d): %s", d->abi_major, d->abi_minor, d->description ? d->description : "");
    return 0;
}

static void scan(tt_plugins *ps, const char *dir)
{
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) return;
    struct dirent *e;
    char path[1024];
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 4 || strcmp(e->d_name + n - 3, ".so") || e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        add(ps, path);
    }
    closedir(d);
}

void tt_plugins_load(tt_plugins *ps, const char *installed_dir, const char *const *paths, int npaths,
                     const tt_plugin_services *svc)
{
    memset(ps, 0, sizeof *ps);
    scan(ps, installed_dir);
    char user[600];
    const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) snprintf(user, sizeof user, "%s/traintop/plugins", xdg);
    else if (home && *home) snprintf(user, sizeof user, "%s/.local/share/traintop/plugins", home);
    else user[0] = 0;
    if (user[0]) scan(ps, user);
    for (int i = 0; i < npaths; i++) add(ps, paths[i]);
    for (int i = 0; i < ps->n; i++)
        if (open_one(&ps->v[i], ps, svc) && ps->v[i].dl) { dlclose(ps->v[i].dl); ps->v[i].dl = NULL; }
}

void tt_plugins_unload(tt_plugins *ps)
{
    for (int i = 0; i < ps->n; i++) {
        tt_plugin *p = &ps->v[i];
        if (p->loaded && p->desc->fini) p->desc->fini(p->state);
        if (p->dl) dlclose(p->dl);
    }
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

void tt_plugins_report(const tt_plugins *ps, FILE *out)
{
    if (!ps->n) fprintf(out, "no plugins found\n");
    for (int i = 0; i < ps->n; i++)
        fprintf(out, "%-10s %-8s %s — %s\n", ps->v[i].name, ps->v[i].loaded ? "loaded" : "refused", ps->v[i].path, ps->v[i].why);
}

int tt_beside_exe(const char *rel, char *out, size_t len)
{
    char self[PATH_MAX], path[PATH_MAX + 256], real[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return -1;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = 0;
    snprintf(path, sizeof path, "%s/%s", self, rel);
    if (!realpath(path, real) || strlen(real) >= len) return -1;
    memcpy(out, real, strlen(real) + 1);
    return 0;
}

void tt_plugin_dir(char *out, size_t len)
{
    if (tt_beside_exe("../lib/traintop/plugins", out, len)) snprintf(out, len, "%s", TT_PLUGIN_DIR);
}

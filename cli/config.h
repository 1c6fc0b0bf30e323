/* config: the dashboard's settings in $XDG_CONFIG_HOME/traintop/config.json (else
 * ~/.config/traintop/config.json) — read once at start, written atomically (temp file, fsync, rename)
 * whenever the user changes a setting from the keyboard. A bad file costs one line naming the file and
 * the field; the defaults stand in for what could not be read. Fields unknown to this version are kept
 * when the file is rewritten. */
#ifndef TUI_CONFIG_H
#define TUI_CONFIG_H

#include <stddef.h>
#include "../tui/settings.h"


/* The settings file's path (XDG_CONFIG_HOME, else HOME/.config); -1 when neither is set. */
int tui_config_path(char *out, size_t len);
/* Applies JSON text over c. Returns 0 when all was well; 1 when some fields were wrong (each keeps its
 * previous value; err names the first, "+N more" the rest); -1 when the text is not a JSON object
 * (c untouched). err is one line without the file name. */
int tui_config_parse(tui_config *c, const char *text, char *err, size_t errlen);
/* Reads path over c: 0 (also when the file does not exist), else as tui_config_parse, or -1 when the
 * file cannot be read; err is then one line naming the file ("PATH: field \"theme\": …"). */
int tui_config_load(tui_config *c, const char *path, char *err, size_t errlen);
/* The settings as JSON text (malloc'd), merged over the object in previous (may be NULL) so that its
 * other fields survive. NULL on OOM. */
char *tui_config_to_json(const tui_config *c, const char *previous);
/* Writes the settings to path atomically, creating its directory (0700). A file there that is not
 * JSON is left alone (the user is editing it): -1 with err. 0 on success. */
int tui_config_save(const tui_config *c, const char *path, char *err, size_t errlen);

/* The settings file as the dashboard reaches it (tui_opts.settings). */
extern const tui_settings_io tui_settings_file;

#endif

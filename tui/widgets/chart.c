/* chart: axis math, the dot canvas (braille, block, ASCII) and the chart drawing over it. */
#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fmt.h"
#include "freeze.h"

double tui_nice_num(double x, int round)
{
    if (!(x > 0) || !isfinite(x)) return 1;
    double e = floor(log10(x));
    double p = pow(10, e);
    double f = x / p, nf;
    if (round) nf = f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10;
    else nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10;
    return nf * p;
}

/* The next nice step above s (1 → 2 → 5 → 10). */
static double nice_up(double s)
{
    double e = floor(log10(s) + 1e-9);
    double p = pow(10, e);
    double f = s / p;
    return (f < 1.5 ? 2 : f < 3.5 ? 5 : 10) * p;
}

int tui_axis_compute(double dmin, double dmax, int max_ticks, tui_axis *ax)
{
    if (!isfinite(dmin) || !isfinite(dmax)) return -1;
    if (dmin > dmax) { double t = dmin; dmin = dmax; dmax = t; }
    if (max_ticks < 3) max_ticks = 3;        /* a range around 0 needs -s, 0, s */
    if (max_ticks > TUI_AXIS_MAX_TICKS) max_ticks = TUI_AXIS_MAX_TICKS;
    if (dmax - dmin <= fabs(dmax) * 1e-12) {
        double pad = dmin == 0 ? 1 : fabs(dmin) * 0.1;
        dmin -= pad;
        dmax += pad;
    }
    double range = tui_nice_num(dmax - dmin, 0);
    double step = tui_nice_num(range / (max_ticks - 1), 1);
    double klo, khi;
    for (int guard = 0; guard < 64; guard++) {
        klo = floor(dmin / step + 1e-9);
        khi = ceil(dmax / step - 1e-9);
        if (khi <= klo) khi = klo + 1;
        if (khi - klo + 1 <= max_ticks) break;
        step = nice_up(step);
    }
    if (!isfinite(step) || !isfinite(klo * step) || !isfinite(khi * step)) return -1;
    ax->step = step;
    ax->lo = klo * step;
    ax->hi = khi * step;
    ax->nticks = (int)(khi - klo) + 1;
    for (int i = 0; i < ax->nticks; i++) ax->tick[i] = (klo + i) * step;
    return 0;
}

int tui_axis_dot(const tui_axis *ax, double v, int ndots)
{
    if (ndots <= 1 || !(ax->hi > ax->lo)) return 0;
    double t = (ax->hi - v) / (ax->hi - ax->lo);
    if (!(t > 0)) return 0;
    if (t >= 1) return ndots - 1;
    return (int)lround(t * (ndots - 1));
}

int tui_axis_compute_log(double lmin, double lmax, int max_ticks, tui_axis *ax)
{
    if (!isfinite(lmin) || !isfinite(lmax)) return -1;
    if (lmin > lmax) { double t = lmin; lmin = lmax; lmax = t; }
    if (lmax - lmin < 1) return tui_axis_compute(lmin, lmax, max_ticks, ax);
    if (max_ticks < 2) max_ticks = 2;
    if (max_ticks > TUI_AXIS_MAX_TICKS) max_ticks = TUI_AXIS_MAX_TICKS;
    /* whole decades, every 1, 2, 5, 10… of them */
    double step = 1;
    for (int guard = 0; guard < 16; guard++) {
        double klo = floor(lmin / step + 1e-9), khi = ceil(lmax / step - 1e-9);
        if (khi <= klo) khi = klo + 1;
        if (khi - klo + 1 <= max_ticks) {
            ax->step = step;
            ax->lo = klo * step;
            ax->hi = khi * step;
            ax->nticks = (int)(khi - klo) + 1;
            for (int i = 0; i < ax->nticks; i++) ax->tick[i] = (klo + i) * step;
            return 0;
        }
        step = step < 2 ? 2 : step < 5 ? 5 : step * 2;
    }
    return -1;
}

const char *tui_chart_style_name(int style)
{
    return style == TUI_CHART_BLOCK ? "block" : style == TUI_CHART_ASCII ? "ascii" : "braille";
}

/* ---- canvas ---- */

void tui_canvas_init(tui_canvas *c, int w, int h, int style, unsigned char *bits, unsigned char *role)
{
    int st = style == TUI_CHART_BLOCK ? TUI_CHART_BLOCK : style ? TUI_CHART_ASCII : TUI_CHART_BRAILLE;
    c->w = w;
    c->h = h;
    c->ascii = st;
    c->dx = st == TUI_CHART_ASCII ? 1 : 2;
    c->dy = st == TUI_CHART_ASCII ? 3 : st == TUI_CHART_BLOCK ? 2 : 4;
    c->bits = bits;
    c->role = role;
    memset(bits, 0, (size_t)w * (size_t)h);
    memset(role, 0, (size_t)w * (size_t)h);
}

void tui_canvas_dot(tui_canvas *c, int x, int y, int role)
{
    if (x < 0 || y < 0 || x >= c->w * c->dx || y >= c->h * c->dy) return;
    int cx = x / c->dx, cy = y / c->dy, sx = x % c->dx, sy = y % c->dy;
    unsigned char bit;
    if (c->ascii == TUI_CHART_ASCII) {
        bit = (unsigned char)(1u << sy);
    } else if (c->ascii == TUI_CHART_BLOCK) {
        bit = (unsigned char)(1u << (sy * 2 + sx));     /* 1 top-left, 2 top-right, 4 bottom-left, 8 bottom-right */
    } else {
        static const unsigned char braille[4][2] = { { 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 }, { 0x40, 0x80 } };
        bit = braille[sy][sx];
    }
    size_t i = (size_t)cy * (size_t)c->w + (size_t)cx;
    c->bits[i] |= bit;
    c->role[i] = (unsigned char)role;
}

void tui_canvas_line(tui_canvas *c, int x0, int y0, int x1, int y1, int role)
{
    int dx = x1 > x0 ? x1 - x0 : x0 - x1, sx = x0 < x1 ? 1 : -1;
    int dy = y1 > y0 ? -(y1 - y0) : -(y0 - y1), sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (int guard = 0; guard < 1 << 20; guard++) {
        tui_canvas_dot(c, x0, y0, role);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * err;
        if (e2 >= dy) { err += dy; x0 += sx; }
        if (e2 <= dx) { err += dx; y0 += sy; }
    }
}

static void utf8_of(unsigned cp, char buf[8])
{
    buf[0] = (char)(0xE0 | (cp >> 12));
    buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = (char)(0x80 | (cp & 0x3F));
    buf[3] = '\0';
}

const char *tui_canvas_glyph(const tui_canvas *c, int cx, int cy, char buf[8])
{
    unsigned char b = c->bits[(size_t)cy * (size_t)c->w + (size_t)cx];
    if (!b) return NULL;
    if (c->ascii == TUI_CHART_ASCII) {
        /* bit 0 top, 1 middle, 2 bottom; two or more: a vertical stroke */
        static const char g[8] = { ' ', '\'', '-', '|', '_', '|', '|', '|' };
        buf[0] = g[b & 7];
        buf[1] = '\0';
        return buf;
    }
    if (c->ascii == TUI_CHART_BLOCK) {
        /* quadrants: index = TL | TR<<1 | BL<<2 | BR<<3 */
        static const unsigned short q[16] = { 0x20, 0x2598, 0x259D, 0x2580, 0x2596, 0x258C, 0x259E, 0x259B,
                                              0x2597, 0x259A, 0x2590, 0x259C, 0x2584, 0x2599, 0x259F, 0x2588 };
        utf8_of(q[b & 15], buf);
        return buf;
    }
    utf8_of(0x2800u + b, buf);                /* braille: 3-byte UTF-8 */
    return buf;
}

/* ---- chart ---- */

#define ENVELOPE 64          /* role offset of envelope dots: drawn dim */
#define MAX_LINES 16

int tui_chart_step_col(int64_t from, int64_t to, int pw, int64_t step)
{
    if (pw <= 1 || to <= from) return pw > 0 ? pw - 1 : 0;
    double t = (double)(step - from) / (double)(to - from);
    int c = (int)floor(t * pw);
    return c < 0 ? 0 : c >= pw ? pw - 1 : c;
}

int64_t tui_chart_col_step(int64_t from, int64_t to, int pw, int col)
{
    if (pw <= 0 || to <= from) return to;
    double s = (double)from + ((double)col + 0.5) * (double)(to - from) / pw;
    int64_t r = (int64_t)llround(s);
    return r < from ? from : r > to ? to : r;
}

static int step_to_dot(int64_t s, int64_t from, int64_t to, int ndots)
{
    if (to <= from || ndots <= 1) return ndots - 1;
    double t = (double)(s - from) / (double)(to - from);
    int d = (int)floor(t * ndots);
    return d < 0 ? 0 : d >= ndots ? ndots - 1 : d;
}

double tui_series_at(const tt_series *s, int64_t step, int64_t tol, int *exact, int64_t *at)
{
    if (exact) *exact = 0;
    if (at) *at = INT64_MIN;
    if (!s) return NAN;
    if (tol < 0) tol = 0;
    tt_point pts[64];
    size_t n = tui_query(s, step - tol, step + tol, 64, pts);
    const tt_point *best = NULL;
    int64_t bd = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        int64_t d = step < pts[i].first ? pts[i].first - step : step > pts[i].step ? step - pts[i].step : 0;
        if (d < bd) { bd = d; best = &pts[i]; }
    }
    if (!best) return NAN;
    if (exact) *exact = best->count == 1;
    if (at) *at = best->count == 1 ? best->step : step;
    if (best->count == 1) return best->last;
    return best->finite ? best->mean : best->last;
}

static double tv(double v, int log_y) { return log_y ? (v > 0 ? log10(v) : NAN) : v; }

/* A legend value: "~" marks a bucket mean rather than an exact point, "-" no point near the cursor
 * (approx < 0). */
static void legend_value(char *buf, size_t len, double v, int approx)
{
    char num[TUI_FMT_MAX];
    if (approx < 0) { snprintf(buf, len, approx == -2 ? "n/a" : "-"); return; }
    tui_fmt_num(num, sizeof num, v);
    snprintf(buf, len, "%s%s", approx ? "~" : "", num);
}

/* The legend: title, then per line "━label value"; an entry that does not fit whole goes to the next
 * of at most maxrows rows, or is left out behind an ellipsis. Returns the rows used. */
static int legend(WINDOW *win, int y, int x, int w, int maxrows, const char *title, const tui_chart_line *lines, int n,
                  const double *vals, const int *approx, int ascii)
{
    int col = 0, row = 0;
    if (title && title[0]) col += tui_puts(win, y, x, w, title, A_BOLD);
    for (int i = 0; i < n; i++) {
        char num[TUI_FMT_MAX + 2];
        legend_value(num, sizeof num, vals[i], approx[i]);
        int need = (col > 0) + 1 + tui_text_width(lines[i].name) + 1 + (int)strlen(num);
        if (col + need > w && col > 0 && row + 1 < maxrows) {
            row++;
            col = 0;
            need--;
        }
        /* alone on its row and still too long: the name is shortened, the value stays */
        int name_w = tui_text_width(lines[i].name);
        if (col + need > w && col == 0 && w - (need - name_w) >= 4) name_w = w - (need - name_w);
        else if (col + need > w) {
            if (col < w) tui_puts(win, y + row, x + col, w - col, ascii ? "~" : "\u2026", tui_attr(TUI_A_DIM));
            break;
        }
        int role = lines[i].role ? lines[i].role : TUI_A_SERIES0 + i % TUI_NSERIES;
        attr_t sa = tui_attr((tui_role)role);
        if (col > 0) col += tui_puts(win, y + row, x + col, w - col, " ", 0);
        col += tui_puts(win, y + row, x + col, w - col, ascii ? "-" : "\u2501", sa | A_BOLD);
        if (name_w < tui_text_width(lines[i].name)) {
            tui_put(win, y + row, x + col, name_w, lines[i].name, sa | A_BOLD, TUI_LEFT, ascii);
            col += name_w;
        } else {
            col += tui_puts(win, y + row, x + col, w - col, lines[i].name, sa | A_BOLD);
        }
        col += tui_puts(win, y + row, x + col, w - col, " ", 0);
        col += tui_puts(win, y + row, x + col, w - col, num, approx[i] < 0 ? tui_attr(TUI_A_DIM) : isfinite(vals[i]) ? 0 : tui_attr(TUI_A_BAD));
    }
    return row + 1;
}

static void centered(WINDOW *win, int y, int x, int w, const char *msg)
{
    int tw = tui_text_width(msg);
    tui_puts(win, y, x + (tw < w ? (w - tw) / 2 : 0), w, msg, tui_attr(TUI_A_DIM));
}

/* An x label: a step count or an elapsed time. */
static void x_label(char *buf, size_t len, const tui_chart_opts *o, double v)
{
    if (o->x_time) tui_fmt_duration(buf, len, v);
    else tui_fmt_count(buf, len, v < 0 ? 0 : (uint64_t)llround(v));
}

void tui_chart_xaxis(WINDOW *win, int ry, int px, int pw, int64_t from, int64_t to, const tui_chart_opts *o)
{
    attr_t axa = tui_attr(TUI_A_AXIS);
    double k = o->x_time ? o->sec_per_step : 1, off = o->x_time ? (double)o->t0_step : 0;
    double vf = ((double)from - off) * k, vt = ((double)to - off) * k;
    char lab[TUI_FMT_MAX];
    /* the cursor's label first: ticks keep out of its way */
    int cx0 = -1, cx1 = -1;
    if (o->cursor_on && o->cursor >= from && o->cursor <= to && pw > 0) {
        x_label(lab, sizeof lab, o, ((double)o->cursor - off) * k);
        int n = (int)strlen(lab), c = tui_chart_step_col(from, to, pw, o->cursor);
        int sx = px + c - n / 2;
        if (sx + n > px + pw) sx = px + pw - n;
        if (sx < px) sx = px;
        tui_puts(win, ry, sx, px + pw - sx, lab, tui_attr(TUI_A_CURSORLINE) | A_REVERSE);
        cx0 = sx - 1;
        cx1 = sx + n + 1;
    }
    if (!(vt > vf)) {
        x_label(lab, sizeof lab, o, vf);
        if (cx0 < 0) tui_puts(win, ry, px, pw, lab, axa);
        return;
    }
    x_label(lab, sizeof lab, o, vt);
    int lw = (int)strlen(lab) + 2;
    int maxt = pw / (lw < 6 ? 6 : lw);
    if (maxt < 2) maxt = 2;
    tui_axis ax;
    if (tui_axis_compute(vf, vt, maxt + 1, &ax) != 0) return;
    int next_free = px;
    for (int t = 0; t < ax.nticks; t++) {
        double v = ax.tick[t];
        if (v < vf - 1e-9 * fabs(vf) || v > vt + 1e-9 * fabs(vt)) continue;
        if (!o->x_time && fabs(v - round(v)) > 1e-9) continue;       /* steps are whole */
        x_label(lab, sizeof lab, o, v);
        int n = (int)strlen(lab);
        int c = (int)floor((v - vf) / (vt - vf) * pw);
        if (c >= pw) c = pw - 1;
        int sx = px + c - n / 2;
        if (sx + n > px + pw) sx = px + pw - n;
        if (sx < px) sx = px;
        if (sx < next_free) continue;
        if (cx0 >= 0 && sx < cx1 && sx + n > cx0) continue;          /* under the cursor's label */
        tui_puts(win, ry, sx, px + pw - sx, lab, axa);
        next_free = sx + n + 2;
    }
}

void tui_chart_draw_ex(WINDOW *win, int y, int x, int h, int w, const tui_chart_line *lines, int nlines, int64_t from,
                       int64_t to, const tui_chart_opts *o, tui_buf *scratch, tui_chart_geom *g)
{
    static const tui_chart_opts defaults;
    if (!o) o = &defaults;
    if (g) memset(g, 0, sizeof *g);
    if (h < 1 || w < 1) return;
    if (nlines > MAX_LINES) nlines = MAX_LINES;
    if (nlines < 0) nlines = 0;
    int style = o->style == TUI_CHART_BLOCK ? TUI_CHART_BLOCK : o->style ? TUI_CHART_ASCII : TUI_CHART_BRAILLE;
    int ascii = style == TUI_CHART_ASCII;

    /* legend values: the last ones, or those under the cursor */
    double vals[MAX_LINES];
    int approx[MAX_LINES];
    int64_t tol = to > from ? (to - from) / (w > 2 ? 2 * w : 2) : 0;
    for (int i = 0; i < nlines; i++) {
        approx[i] = 0;
        vals[i] = lines[i].last;
        if (o->cursor_on) {
            int exact = 0;
            int64_t at;
            vals[i] = tui_series_at(lines[i].s, o->cursor, tol, &exact, &at);
            approx[i] = at == INT64_MIN ? -1 : !exact && isfinite(vals[i]);
        }
        if (o->nan_undefined && isnan(vals[i]) && approx[i] >= 0) approx[i] = -2;   /* "n/a": not defined here */
    }
    int lrows = legend(win, y, x, w, h >= 8 ? 2 : 1, o->title, lines, nlines, vals, approx, ascii);
    y += lrows - 1;                           /* from here on, y is the (last) legend row */
    h -= lrows - 1;
    if (h < 3 || nlines <= 0) return;

    int xlabels = h >= 8;
    int ph = h - 1 - xlabels;                 /* plot rows */
    int dy = style == TUI_CHART_ASCII ? 3 : style == TUI_CHART_BLOCK ? 2 : 4;
    int dx = style == TUI_CHART_ASCII ? 1 : 2;
    int pw_max = w;
    size_t maxpts = (size_t)pw_max * (size_t)dx;
    size_t need = (size_t)nlines * maxpts * sizeof(tt_point) + 2 * (size_t)pw_max * (size_t)ph;
    unsigned char *mem = tui_buf_reserve(scratch, need);
    if (!mem) return;
    tt_point *pts = (tt_point *)mem;
    unsigned char *bits = mem + (size_t)nlines * maxpts * sizeof(tt_point);
    unsigned char *roles = bits + (size_t)pw_max * (size_t)ph;

    /* Bucket counts depend on the plot width, which depends on the label width: query at the widest
     * plausible plot, then re-query once the labels are known (cheap: both are bounded by w). */
    size_t npt[MAX_LINES];
    double dmin = INFINITY, dmax = -INFINITY;
    for (int i = 0; i < nlines; i++) {
        npt[i] = lines[i].s ? tui_query(lines[i].s, from, to, maxpts, pts + (size_t)i * maxpts) : 0;
        for (size_t k = 0; k < npt[i]; k++) {
            const tt_point *p = &pts[(size_t)i * maxpts + k];
            if (p->finite == 0) continue;
            double a = tv(p->min, o->log_y), b = tv(p->max, o->log_y);
            if (isfinite(a) && a < dmin) dmin = a;
            if (isfinite(b) && b > dmax) dmax = b;
            if (isfinite(b) && b < dmin) dmin = b;   /* log: a non-positive min leaves the max */
        }
    }
    tui_axis ax;
    int max_ticks = ph / 2 + 1;
    if (max_ticks > 6) max_ticks = 6;
    int ok = dmin <= dmax;
    if (ok) {                                   /* padding: the line never sits on the frame */
        double span = dmax - dmin, pad = span * (o->log_y ? 0.02 : 0.04);
        double lo = dmin - pad, hi = dmax + pad;
        if (!o->log_y && dmin >= 0 && lo < 0) lo = 0;
        if (!o->log_y && dmax <= 0 && hi > 0) hi = 0;
        if (o->unit_range && !o->log_y && dmin >= 0 && dmax <= 1) lo = 0, hi = 1;
        ok = (o->log_y ? tui_axis_compute_log(lo, hi, max_ticks, &ax) : tui_axis_compute(lo, hi, max_ticks, &ax)) == 0;
    }
    if (!ok) {
        centered(win, y + 1 + (ph - 1) / 2, x, w, o->log_y ? "no positive data (log scale)" : "no finite data");
        return;
    }
    char lab[TUI_AXIS_MAX_TICKS][TUI_FMT_MAX];
    int lw = 1;
    for (int t = 0; t < ax.nticks; t++) {
        tui_fmt_num(lab[t], sizeof lab[t], o->log_y ? pow(10, ax.tick[t]) : ax.tick[t]);
        int l = (int)strlen(lab[t]);
        if (l > lw) lw = l;
    }
    int px = x + lw + 1, pw = w - lw - 1;
    if (pw < 4) return;
    int DW = pw * dx, DH = ph * dy;
    if ((size_t)DW < maxpts) {
        for (int i = 0; i < nlines; i++)
            npt[i] = lines[i].s ? tui_query(lines[i].s, from, to, (size_t)DW, pts + (size_t)i * maxpts) : 0;
    }

    tui_canvas cv;
    tui_canvas_init(&cv, pw, ph, style, bits, roles);
    int bad_col[1024];
    int nbad = 0;
    /* envelopes first, dim; then the lines through the means, which win the cells they cross */
    for (int pass = o->no_envelope ? 1 : 0; pass < 2; pass++) {
        for (int i = 0; i < nlines; i++) {
            int base = lines[i].role ? lines[i].role : TUI_A_SERIES0 + i % TUI_NSERIES;
            int role = base + (pass == 0 ? ENVELOPE : 0);
            int have_prev = 0, prev_x = 0, prev_y = 0;
            for (size_t k = 0; k < npt[i]; k++) {
                const tt_point *p = &pts[(size_t)i * maxpts + k];
                int xa = step_to_dot(p->first, from, to, DW), xb = step_to_dot(p->step, from, to, DW);
                if (pass == 1 && !o->nan_undefined && p->finite < p->count && nbad < 1024) bad_col[nbad++] = (xa + xb) / 2 / dx;
                double mean = tv(p->mean, o->log_y);
                if (p->finite == 0 || !isfinite(mean)) { have_prev = 0; continue; }
                if (pass == 0) {
                    double mx = tv(p->max, o->log_y), mn = tv(p->min, o->log_y);
                    int ytop = tui_axis_dot(&ax, mx, DH), ybot = isfinite(mn) ? tui_axis_dot(&ax, mn, DH) : DH - 1;
                    if (ybot - ytop > 1)
                        for (int xx = xa; xx <= xb; xx++) tui_canvas_line(&cv, xx, ytop, xx, ybot, role);
                    continue;
                }
                int cxm = (xa + xb) / 2, cym = tui_axis_dot(&ax, mean, DH);
                if (have_prev) tui_canvas_line(&cv, prev_x, prev_y, cxm, cym, role);
                else tui_canvas_dot(&cv, cxm, cym, role);
                have_prev = 1;
                prev_x = cxm;
                prev_y = cym;
            }
        }
    }

    /* y tick labels and the axis line */
    int taken[256] = { 0 };
    attr_t axa = tui_attr(TUI_A_AXIS);
    for (int r = 0; r < ph; r++)
        tui_puts(win, y + 1 + r, px - 1, 1, ascii ? "|" : "\u2502", axa);
    for (int t = ax.nticks - 1; t >= 0; t--) {
        int r = tui_axis_dot(&ax, ax.tick[t], DH) / dy;
        if (r < 0 || r >= ph || r >= 256 || taken[r]) continue;
        taken[r] = 1;
        tui_put(win, y + 1 + r, x, lw, lab[t], axa, TUI_RIGHT, ascii);
        tui_puts(win, y + 1 + r, px - 1, 1, ascii ? "+" : "\u2524", axa);
    }
    int ccol = o->cursor_on && o->cursor >= from && o->cursor <= to ? tui_chart_step_col(from, to, pw, o->cursor) : -1;
    /* the dots */
    for (int cy = 0; cy < ph; cy++) {
        for (int cx = 0; cx < pw; cx++) {
            char gl[8];
            const char *s = tui_canvas_glyph(&cv, cx, cy, gl);
            int role = roles[cy * pw + cx];
            attr_t at = role >= ENVELOPE ? tui_attr((tui_role)(role - ENVELOPE)) | A_DIM : tui_attr((tui_role)role);
            if (cx == ccol) {
                if (s) tui_puts(win, y + 1 + cy, px + cx, 1, s, at | A_REVERSE);
                else tui_puts(win, y + 1 + cy, px + cx, 1, ascii ? ":" : "\u250a", tui_attr(TUI_A_CURSORLINE));
            } else if (s) {
                tui_puts(win, y + 1 + cy, px + cx, 1, s, at);
            }
        }
    }
    /* steps holding NaN/Inf: a mark on the top row */
    for (int b = 0; b < nbad; b++)
        if (bad_col[b] >= 0 && bad_col[b] < pw)
            tui_puts(win, y + 1, px + bad_col[b], 1, ascii ? "!" : "\u00d7", tui_attr(TUI_A_BAD));
    if (xlabels) {
        int ry = y + h - 1;
        tui_chart_xaxis(win, ry, px, pw, from, to, o);
    }
    if (g) {
        g->px = px;
        g->py = y + 1;
        g->pw = pw;
        g->ph = ph;
        g->from = from;
        g->to = to;
        g->steps_per_col = to > from ? (double)(to - from) / pw : 1;
    }
}

void tui_chart_draw(WINDOW *win, int y, int x, int h, int w, const char *title, const tui_chart_line *lines,
                    int nlines, int64_t from, int64_t to, int ascii, tui_buf *scratch)
{
    tui_chart_opts o = { .title = title, .style = ascii ? TUI_CHART_ASCII : TUI_CHART_BRAILLE };
    tui_chart_draw_ex(win, y, x, h, w, lines, nlines, from, to, &o, scratch, NULL);
}

from werkzeug.exceptions import BadRequest, NotFound

from odoo import _, models
from odoo.http import request

# PostgreSQL's integer: an id beyond it names no record (and would fail the query).
MAX_PG_INT = 2**31 - 1
# The routes guarded: those of the collections addons.
GUARDED_MODULE_PREFIX = "odoo.addons.collections_"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class IrHttp(models.AbstractModel):
    """One guard for every route of the collections addons, before the route
    runs: what no route can use ends as a 4xx page here, never as a 500 deep
    inside: an id in the path beyond PostgreSQL's integer is a 404, a NUL
    character in the path, the query string or a form (PostgreSQL cannot
    store it) a 400."""

    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        if getattr(rule.endpoint, "__module__", "").startswith(GUARDED_MODULE_PREFIX):
            cls._collections_guard(args)
        return super()._pre_dispatch(rule, args)

    @classmethod
    def _match(cls, path_info):
        try:
            return super()._match(path_info)
        except ValueError as error:
            # werkzeug's <int:> converter raises on a number longer than Python converts
            # (4,300 digits): such a path names no record.
            raise NotFound() from error

    @classmethod
    def _serve_fallback(cls):
        # An unrouted path with a NUL (e.g. /collections/status/%00) would fail Odoo's
        # attachment lookup with a 500: no attachment has such a URL, so it is a 404.
        if "\x00" in request.httprequest.path:
            return None
        return super()._serve_fallback()

    @classmethod
    def _collections_guard(cls, args):
        for value in args.values():
            if isinstance(value, int) and not -MAX_PG_INT - 1 <= value <= MAX_PG_INT:
                raise NotFound()
            if isinstance(value, str) and "\x00" in value:
                raise cls._collections_nul()
        httprequest = request.httprequest
        if "\x00" in httprequest.path:
            raise cls._collections_nul()
        sources = [httprequest.args]
        if httprequest.mimetype in FORM_TYPES:  # other bodies (JSON, signed webhooks) stay unread here
            sources.append(httprequest.form)
        for values in sources:
            for key, value in values.items(multi=True):
                if "\x00" in key or "\x00" in value:
                    raise cls._collections_nul()

    @classmethod
    def _collections_nul(cls):
        return BadRequest(_("This request contains a NUL character, which no field accepts."))

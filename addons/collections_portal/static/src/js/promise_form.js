/** @odoo-module **/

import publicWidget from "@web/legacy/js/public/public_widget";

/**
 * Promise to Pay: the amount follows the ticked invoices (what they still owe)
 * until the customer types an amount of their own. Without this script the
 * server fills in the same total when the form opens, and an empty amount
 * means everything the chosen invoices owe.
 */
publicWidget.registry.CollectionsPromiseForm = publicWidget.Widget.extend({
    selector: "form.o_collections_promise_form",
    events: {
        "change input[name='invoice_ids']": "_onInvoiceChange",
    },

    start() {
        this.amountInput = this.el.querySelector("input[name='amount']");
        this.total = this._tickedTotal();
        return this._super(...arguments);
    },

    /**
     * What the ticked invoices owe, formatted as the server formats it; empty
     * when none is ticked or they are in more than one currency.
     */
    _tickedTotal() {
        const ticked = [...this.el.querySelectorAll("input[name='invoice_ids']:checked")];
        const currencies = new Set(ticked.map((input) => input.dataset.currencyId));
        if (currencies.size !== 1) {
            return "";
        }
        const decimals = Number(ticked[0].dataset.decimals);
        const factor = 10 ** decimals;
        // In the currency's smallest unit, so that the sum does not drift in floating point.
        const units = ticked.reduce((sum, input) => sum + Math.round(Number(input.dataset.residual) * factor), 0);
        return (units / factor).toFixed(decimals);
    },

    _onInvoiceChange() {
        const total = this._tickedTotal();
        const following = this.amountInput.value === "" || this.amountInput.value === this.total;
        if (following) {
            this.amountInput.value = total;
        }
        this.total = total;
    },
});

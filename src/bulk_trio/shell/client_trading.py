"""The order types and account actions of :class:`~bulk_trio.BulkClient` (docs/guides/orders.md).

Stops, take-profits, ranges, trailing stops, brackets, builder codes, sub-accounts, transfers and
multisig, each a one-line call. Each builds its action first, so a bad argument is a
``ValueError`` before anything is signed, and returns the action's ``OrderResponse``; timeouts and
errors are those of ``BulkClient.place_orders``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..actions import (
    ApproveBuilderCode,
    BaseAction,
    BuilderCode,
    CreateMultisig,
    CreateSubAccount,
    LimitOrder,
    MarketOrder,
    MultisigApprove,
    MultisigCancel,
    MultisigExecute,
    MultisigPropose,
    MultisigReject,
    MultisigUpdate,
    OnFill,
    RangeOrder,
    RemoveSubAccount,
    RenameSubAccount,
    RevokeBuilderCode,
    StopOrder,
    TakeProfitOrder,
    TrailingStop,
    Transfer,
)
from ..enums import Side, TimeInForce
from ..literals import SideName, TimeInForceName
from ..models import OrderResponse


class ClientTrading:
    """The order types and account actions beyond limit and market orders."""

    @property
    def account(self) -> str | None:
        raise NotImplementedError  # BulkClient's

    async def _post_one(
        self, action: BaseAction, timeout: float | None, nonce: int | None
    ) -> OrderResponse:
        raise NotImplementedError  # BulkClient's

    async def place_stop_order(
        self,
        symbol: str,
        is_above: bool,
        size: float,
        trigger_price: float,
        limit_price: float | None = None,
        *,
        iso: bool = False,
        builder_code: BuilderCode | None = None,
        slippage_bps: float | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """A stop order: when the mark crosses ``trigger_price`` (upwards if ``is_above``),
        trade ``size`` at market, or at ``limit_price`` when given
        (:class:`~bulk_trio.actions.StopOrder`)."""
        order = StopOrder(
            symbol, is_above, size, trigger_price, limit_price, iso, builder_code, slippage_bps
        )
        return await self._post_one(order, timeout, nonce)

    async def place_take_profit(
        self,
        symbol: str,
        is_above: bool,
        size: float,
        trigger_price: float,
        limit_price: float | None = None,
        *,
        iso: bool = False,
        builder_code: BuilderCode | None = None,
        slippage_bps: float | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """A take-profit order; arguments as :meth:`place_stop_order`
        (:class:`~bulk_trio.actions.TakeProfitOrder`)."""
        order = TakeProfitOrder(
            symbol, is_above, size, trigger_price, limit_price, iso, builder_code, slippage_bps
        )
        return await self._post_one(order, timeout, nonce)

    async def place_range_order(
        self,
        symbol: str,
        is_buy: bool,
        size: float,
        stop_loss_price: float,
        take_profit_price: float,
        stop_loss_limit: float | None = None,
        take_profit_limit: float | None = None,
        *,
        iso: bool = False,
        builder_code: BuilderCode | None = None,
        sl_slippage_bps: float | None = None,
        tp_slippage_bps: float | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """A range (OCO) protecting a position (``is_buy=True``: a long) with a stop-loss and a
        take-profit leg; when one fires the other is cancelled
        (:class:`~bulk_trio.actions.RangeOrder`)."""
        order = RangeOrder(
            symbol,
            is_buy,
            size,
            stop_loss_price,
            take_profit_price,
            stop_loss_limit,
            take_profit_limit,
            iso,
            builder_code,
            sl_slippage_bps,
            tp_slippage_bps,
        )
        return await self._post_one(order, timeout, nonce)

    async def place_trailing_stop(
        self,
        symbol: str,
        protects_long: bool,
        size: float,
        trail_bps: int,
        step_bps: int,
        limit_price: float | None = None,
        *,
        iso: bool = False,
        builder_code: BuilderCode | None = None,
        slippage_bps: float | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """A trailing stop ``trail_bps`` behind the best mark, moving in ``step_bps`` steps;
        ``protects_long=True`` sells when a long gives back the trail
        (:class:`~bulk_trio.actions.TrailingStop`)."""
        order = TrailingStop(
            symbol,
            protects_long,
            size,
            trail_bps,
            step_bps,
            limit_price,
            iso,
            builder_code,
            slippage_bps,
        )
        return await self._post_one(order, timeout, nonce)

    async def place_bracket(
        self,
        symbol: str,
        side: Side | SideName,
        size: float,
        price: float | None,
        stop_loss: float,
        take_profit: float,
        *,
        time_in_force: TimeInForce | TimeInForceName = TimeInForce.GTC,
        stop_loss_limit: float | None = None,
        take_profit_limit: float | None = None,
        iso: bool = False,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """An entry with its exits, in one transaction: a limit order at ``price`` (a market
        order when ``price`` is None) whose first fill places a range (OCO) of ``stop_loss`` and
        ``take_profit`` for the same size (:class:`~bulk_trio.actions.OnFill`). When one exit
        fires, the other is cancelled. For a buy, ``stop_loss < price < take_profit``; for a
        sell, the reverse."""
        entry: LimitOrder | MarketOrder
        if price is None:
            entry = MarketOrder(symbol, side, size, iso=iso)
        else:
            entry = LimitOrder(symbol, side, price, size, time_in_force=time_in_force, iso=iso)
        is_buy = entry.side is Side.BUY
        if price is not None and not (
            stop_loss < price < take_profit if is_buy else take_profit < price < stop_loss
        ):
            order = (
                "stop_loss < price < take_profit" if is_buy else "take_profit < price < stop_loss"
            )
            raise ValueError(
                f"a {entry.side.value} bracket needs {order}, got {stop_loss=}, "
                f"{price=}, {take_profit=}"
            )
        exits = RangeOrder(
            symbol, is_buy, size, stop_loss, take_profit, stop_loss_limit, take_profit_limit, iso
        )
        return await self._post_one(OnFill(entry, [exits]), timeout, nonce)

    async def approve_builder_code(
        self, to: str, fee: int, timeout: float | None = None, nonce: int | None = None
    ) -> OrderResponse:
        """Let orders carry ``builder_code=BuilderCode(to, f)`` with ``f <= fee`` basis points
        (``abc``; the official SDK's name)."""
        return await self._post_one(ApproveBuilderCode(to, fee), timeout, nonce)

    async def revoke_builder_code(
        self, to: str, timeout: float | None = None, nonce: int | None = None
    ) -> OrderResponse:
        """Withdraw the approval of builder code recipient ``to`` (``rbc``)."""
        return await self._post_one(RevokeBuilderCode(to), timeout, nonce)

    async def create_sub_account(
        self,
        name: str,
        margin_amount: float | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Create a sub-account owned by the trading account, optionally funded with
        ``margin_amount`` from it."""
        return await self._post_one(CreateSubAccount(name, margin_amount), timeout, nonce)

    async def remove_sub_account(
        self, sub_account: str, timeout: float | None = None, nonce: int | None = None
    ) -> OrderResponse:
        """Remove the sub-account ``sub_account``."""
        return await self._post_one(RemoveSubAccount(sub_account), timeout, nonce)

    async def rename_sub_account(
        self, sub_account: str, name: str, timeout: float | None = None, nonce: int | None = None
    ) -> OrderResponse:
        """Rename the sub-account ``sub_account``."""
        return await self._post_one(RenameSubAccount(sub_account, name), timeout, nonce)

    async def transfer(
        self,
        destination: str,
        amount: float,
        *,
        source: str | None = None,
        external: bool = False,
        symbol: str | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Move ``amount`` of margin to ``destination`` (from the trading account unless
        ``source`` names one of its sub-accounts); ``external=True`` sends it to another
        account."""
        origin = source if source is not None else self.account
        if origin is None:
            raise RuntimeError("transfer needs a signer or a source account")
        return await self._post_one(
            Transfer(origin, destination, amount, external, symbol), timeout, nonce
        )

    async def create_multisig(
        self,
        signers: Iterable[str],
        threshold: int,
        time_lock_secs: int,
        proposal_lifetime_secs: int,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Create a multisig account whose proposals need ``threshold`` of ``signers``."""
        action = CreateMultisig(signers, threshold, time_lock_secs, proposal_lifetime_secs)
        return await self._post_one(action, timeout, nonce)

    async def multisig_propose(
        self,
        multisig: str,
        actions: BaseAction | Sequence[BaseAction],
        lifetime_secs: int | None = None,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Propose ``actions`` to run as the multisig account ``multisig``."""
        proposed = [actions] if isinstance(actions, BaseAction) else list(actions)
        return await self._post_one(
            MultisigPropose(multisig, proposed, lifetime_secs), timeout, nonce
        )

    async def multisig_approve(
        self,
        multisig: str,
        proposal_id: int,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Approve proposal ``proposal_id`` of ``multisig``."""
        return await self._post_one(MultisigApprove(multisig, proposal_id), timeout, nonce)

    async def multisig_reject(
        self,
        multisig: str,
        proposal_id: int,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Reject proposal ``proposal_id`` of ``multisig``."""
        return await self._post_one(MultisigReject(multisig, proposal_id), timeout, nonce)

    async def multisig_cancel(
        self,
        multisig: str,
        proposal_id: int,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Cancel (as its proposer) proposal ``proposal_id`` of ``multisig``."""
        return await self._post_one(MultisigCancel(multisig, proposal_id), timeout, nonce)

    async def multisig_execute(
        self,
        multisig: str,
        proposal_id: int,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Execute the approved proposal ``proposal_id`` of ``multisig``."""
        return await self._post_one(MultisigExecute(multisig, proposal_id), timeout, nonce)

    async def multisig_update(
        self,
        multisig: str,
        signers: Iterable[str],
        threshold: int,
        time_lock_secs: int,
        proposal_lifetime_secs: int,
        timeout: float | None = None,
        nonce: int | None = None,
    ) -> OrderResponse:
        """Replace the signers and policy of ``multisig``."""
        action = MultisigUpdate(
            multisig, signers, threshold, time_lock_secs, proposal_lifetime_secs
        )
        return await self._post_one(action, timeout, nonce)

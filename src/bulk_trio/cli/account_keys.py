"""Private keys on the command line: where a command reads one, and ``bulk-trio keygen``.

A key is read from the environment variable ``BULK_PRIVATE_KEY`` or from ``--key-file PATH``,
never from a command-line argument (those end up in shell history and in ``ps`` output), and it is
never printed back: error messages name where the key came from, not what it is.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from typing import cast

import orjson

from ..literals import DomainName
from ..networks import DEFAULT_NETWORK
from ..protocol.signing import TransactionSigner
from .endpoint import requested_network, signature_domain
from .output import print_json
from .runtime import EXIT_OK, CommandFailed, UsageError, remember_secret

KEY_ENV = "BULK_PRIVATE_KEY"
KEY_FILE_MODE = 0o600
_MAX_KEY_FILE_BYTES = 4096  # a base58 key or a 64-byte JSON keypair is far smaller


def load_signer(
    key_file: str | None, domain: str, environ: Mapping[str, str] | None = None
) -> TransactionSigner:
    """The signer of ``--key-file`` if given, else of ``BULK_PRIVATE_KEY``; UsageError if neither
    holds a valid key."""
    signer = find_signer(key_file, domain, environ)
    if signer is None:
        raise UsageError(
            f"this command signs: set {KEY_ENV} or pass --key-file PATH "
            "(create a key with: bulk-trio keygen --out PATH)"
        )
    return signer


def find_signer(
    key_file: str | None, domain: str, environ: Mapping[str, str] | None = None
) -> TransactionSigner | None:
    """Like :func:`load_signer`, but None when no key was supplied at all."""
    if key_file is not None:
        return _signer(_read_key_file(key_file), domain, f"--key-file {key_file}")
    text = (os.environ if environ is None else environ).get(KEY_ENV)
    if text is None or not text.strip():
        return None
    remember_secret(text)
    return _signer(text.strip(), domain, KEY_ENV)


def _signer(key: str | bytes, domain: str, source: str) -> TransactionSigner:
    try:
        # The signer checks the name at run time; argparse's choices already did.
        return TransactionSigner(key, domain=cast(DomainName, domain))
    except ValueError as problem:
        # The signer's messages never contain the key itself.
        raise UsageError(f"{source} does not hold a valid private key: {problem}") from None


def _read_key_file(path: str) -> str | bytes:
    """The key in ``path``: base58 text, or a JSON array of 64 byte values (a Solana keypair)."""
    try:
        with open(path, "rb") as file:
            data = file.read(_MAX_KEY_FILE_BYTES + 1)
            shared = os.fstat(file.fileno()).st_mode & 0o077
    except OSError as problem:
        raise UsageError(f"--key-file {path}: {problem.strerror or problem}") from None
    if shared:
        print(
            f"warning: --key-file {path} can be read by other users (chmod 600 {path})",
            file=sys.stderr,
        )
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise UsageError(f"--key-file {path} is too large to be a key file")
    try:
        text = data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise UsageError(f"--key-file {path} does not hold a base58 key") from None
    remember_secret(text)
    if not text.startswith("["):
        return text
    try:
        values = orjson.loads(text)
        return bytes(values)
    except (orjson.JSONDecodeError, TypeError, ValueError):
        raise UsageError(f"--key-file {path} is not a JSON array of byte values") from None


# -- keygen ------------------------------------------------------------------------------------


def write_key_file(path: str, private_key: str) -> None:
    """Create ``path`` readable by its owner only and write ``private_key`` to it.

    Refuses to overwrite anything (O_EXCL also refuses to follow a symlink planted at ``path``).
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        descriptor = os.open(path, flags, KEY_FILE_MODE)
    except FileExistsError:
        raise CommandFailed(f"{path} already exists; refusing to overwrite a key file") from None
    except OSError as problem:
        raise CommandFailed(f"cannot create {path}: {problem.strerror or problem}") from None
    try:
        os.fchmod(descriptor, KEY_FILE_MODE)  # the umask may have taken bits away, never added
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            descriptor = -1
            file.write(private_key + "\n")
    finally:
        if descriptor != -1:
            os.close(descriptor)


def run_keygen(args: argparse.Namespace) -> int:
    if args.out is None and not args.show_private_key:
        raise UsageError(
            "keygen needs --out PATH (recommended) or --show-private-key; "
            "otherwise the new private key would be lost"
        )
    network = requested_network(args.network) or DEFAULT_NETWORK
    domain = cast(DomainName, signature_domain(network))
    signer = TransactionSigner.generate_account(domain=domain)
    if args.out is not None:
        write_key_file(args.out, signer.private_key)
        mode = stat.filemode(os.stat(args.out).st_mode)
        print(f"private key written to {args.out} ({mode})", file=sys.stderr)
        print(
            f"use it with: bulk-trio account --network {network} --key-file {args.out}",
            file=sys.stderr,
        )
    if args.show_private_key:
        print(
            "warning: the private key is printed; whoever sees it controls the account. "
            "Do not paste it into a command line.",
            file=sys.stderr,
        )
    if args.json:
        document = {"public_key": signer.public_key}
        if args.show_private_key:
            document["private_key"] = signer.private_key
        print_json(document)
    elif args.show_private_key:
        # Two lines, each saying which key it is: mixing them up gives the secret away.
        print(f"public key:  {signer.public_key}")
        print(f"private key: {signer.private_key}", flush=True)
    else:
        print(signer.public_key, flush=True)  # alone on stdout: PK=$(bulk-trio keygen --out F)
    return EXIT_OK


# -- a key pasted where it does not belong -----------------------------------------------------

_KEY_LIKE_LENGTH = 32  # base58 keys are 43-88 characters; ordinary arguments are far shorter
HIDDEN_ARGUMENT = "<hidden: looks like a key>"


def looks_like_key(argument: str) -> bool:
    """True for a long opaque token (base58 text, or a JSON byte array): it may be a private
    key pasted by mistake, so it is never echoed back. Public keys and order ids look the same,
    and hiding one of those in an error message costs nothing."""
    value = argument.partition("=")[2] if argument.startswith("--") else argument
    value = value.strip()
    if len(value) < _KEY_LIKE_LENGTH:
        return False
    return value.isalnum() or (value.startswith("[") and value.endswith("]"))


def hide_pasted_keys(message: str, argv: Sequence[str]) -> str:
    """``message`` (argparse's, which quotes arguments it rejects) without any key-like argument."""
    for argument in argv:
        if looks_like_key(argument):
            value = argument.partition("=")[2] if argument.startswith("--") else argument
            message = message.replace(value.strip(), HIDDEN_ARGUMENT)
    return message

"""``run.py federated``: federated learning with Flower, one line per round.

Nothing heavy at module level: ``run.py federated -h`` and every flag check run before
TensorFlow, Flower or Ray load. Numbers are parsed here, so a bad value is a one-line error
naming its flag (exit code 2).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from privface_core.errors import UserError
from training.engine.config import ACCOUNTANTS, BACKBONES, HEADS, OPTIMIZERS
from training.engine.train_cli import parse_number

from .config import CLIENT_CLIPPING, DP_LEVELS, HEAD_POLICIES, PARTITIONS, FederatedConfig

_INTS = ("num_clients", "num_rounds", "clients_per_round", "min_clients", "local_epochs", "embedding_size",
         "image_size", "batch_size", "seed")
_FLOATS = ("alpha", "noise_multiplier", "target_epsilon", "l2_norm_clip", "delta", "lr", "momentum", "weight_decay",
           "holdout_fraction", "client_cpus", "round_timeout")


def add_federated_arguments(parser: argparse.ArgumentParser) -> None:
    d = FederatedConfig()
    data = parser.add_argument_group("data (partitioned among simulated clients)")
    data.add_argument("--data_dir", metavar="DIR", help="extracted dataset (run.py extract --output_dir)")
    data.add_argument("--rec_file", metavar="REC", help="or a RecordIO file ...")
    data.add_argument("--idx_file", metavar="IDX", help="... with its index")
    data.add_argument("--eval_bin", metavar="BIN", help="verification pairs (e.g. lfw.bin) for the global model")
    data.add_argument("--image_size", metavar="N", default=str(d.image_size), help="model input side (112)")
    data.add_argument("--holdout_fraction", metavar="F", default=str(d.holdout_fraction),
                      help="per identity on each client, held out for the membership audit (0.1)")
    fed = parser.add_argument_group("federation")
    fed.add_argument("--num_clients", metavar="K", default=str(d.num_clients), help=f"({d.num_clients})")
    fed.add_argument("--num_rounds", metavar="R", default=str(d.num_rounds), help=f"({d.num_rounds})")
    fed.add_argument("--clients_per_round", metavar="K", help="clients sampled per round (all)")
    fed.add_argument("--min_clients", metavar="M", help="fewest replies a round aggregates (half the sampled)")
    fed.add_argument("--partition", default=d.partition, help=f"{' | '.join(PARTITIONS)} ({d.partition})")
    fed.add_argument("--alpha", metavar="A", default=str(d.alpha), help="Dirichlet concentration (0.5)")
    fed.add_argument("--head", default=d.head, help=f"{' | '.join(HEAD_POLICIES)}: who holds the classification"
                                                   " head (private: each client its own)")
    fed.add_argument("--local_epochs", metavar="E", default=str(d.local_epochs), help="per round (1)")
    fed.add_argument("--superlink", metavar="HOST:PORT", help="run on a Flower SuperLink's SuperNodes (deployment)")
    model = parser.add_argument_group("model and local optimisation")
    model.add_argument("--model", default=d.model, help=f"{' | '.join(BACKBONES)} ({d.model})")
    model.add_argument("--head_type", default=d.head_type, help=f"{' | '.join(HEADS)} ({d.head_type})")
    model.add_argument("--embedding_size", metavar="D", default=str(d.embedding_size), help="(512)")
    model.add_argument("--batch_size", metavar="B", default=str(d.batch_size), help=f"({d.batch_size})")
    model.add_argument("--optimizer", default=d.optimizer, help=f"{' | '.join(OPTIMIZERS)} ({d.optimizer})")
    model.add_argument("--lr", metavar="LR", default=str(d.lr), help=f"({d.lr})")
    model.add_argument("--momentum", metavar="M", default=str(d.momentum), help=f"({d.momentum})")
    model.add_argument("--weight_decay", metavar="W", default=str(d.weight_decay), help=f"({d.weight_decay})")
    dp = parser.add_argument_group("privacy")
    dp.add_argument("--use_dp", action="store_true", help="differential privacy (alone: sample-level DP-SGD)")
    dp.add_argument("--dp_level", help=f"{' | '.join(DP_LEVELS)}: sample (DP-SGD on each client) or client"
                                       " (clipped, noised model updates: user-level DP)")
    dp.add_argument("--noise_multiplier", metavar="Z", help="noise std / clip (default 1.0 with --use_dp)")
    dp.add_argument("--target_epsilon", metavar="E", help="calibrate the noise; the run stops before exceeding it")
    dp.add_argument("--l2_norm_clip", metavar="C", default=str(d.l2_norm_clip),
                    help="sample: per-example gradient clip; client: model-update clip (1.0)")
    dp.add_argument("--clipping", default=d.clipping, help=f"client-level DP: who clips, {' | '.join(CLIENT_CLIPPING)}")
    dp.add_argument("--delta", metavar="D", default=str(d.delta), help="(1e-5)")
    dp.add_argument("--accountant", default=d.accountant, help=f"sample level: {' | '.join(ACCOUNTANTS)} (rdp)")
    dp.add_argument("--secagg", action="store_true", help="secure aggregation (SecAgg+)")
    run = parser.add_argument_group("run")
    run.add_argument("--output_dir", metavar="OUT", default=d.output_dir, help="checkpoint, events, export/")
    run.add_argument("--resume", action="store_true", help="continue from the checkpoint in --output_dir")
    run.add_argument("--seed", metavar="S", help="fixes the partition, sampling and initial weights")
    run.add_argument("--client_cpus", metavar="N", default=str(d.client_cpus), help="CPUs per simulated client (1)")
    run.add_argument("--round_timeout", metavar="S", default=str(d.round_timeout), help="seconds per round (3600)")
    run.add_argument("--json", action="store_true", help="last line of output is the result as JSON")


def config_from_args(args: argparse.Namespace) -> FederatedConfig:
    if args.target_epsilon is not None and args.noise_multiplier is not None:
        raise UserError("--target_epsilon and --noise_multiplier exclude each other: give one")
    values: dict[str, Any] = {name: parse_number(args, name, int) for name in _INTS}
    values.update({name: parse_number(args, name, float) for name in _FLOATS})
    config = FederatedConfig(
        data_dir=args.data_dir, rec_file=args.rec_file, idx_file=args.idx_file, eval_bin=args.eval_bin,
        partition=args.partition, head=args.head, superlink=args.superlink, model=args.model,
        head_type=args.head_type, optimizer=args.optimizer, use_dp=args.use_dp, dp_level=args.dp_level,
        clipping=args.clipping, accountant=args.accountant, secagg=args.secagg, output_dir=args.output_dir,
        resume=args.resume, **{k: v for k, v in values.items() if v is not None},
    )
    for path_flag in ("data_dir", "rec_file", "idx_file", "eval_bin"):
        value = getattr(config, path_flag)
        if value and not Path(value).exists():
            raise UserError(f"--{path_flag} {value}: no such file or folder")
    config.validate()
    return config


def _fmt(value: Any, digits: str = ".4f") -> str:
    return "-" if value is None else format(value, digits)


def round_line(event: dict[str, Any]) -> str:
    parts = [f"round {event['round']}/{event['total_rounds']}",
             f"clients {event['replied']}/{event['sampled']}" + (f" ({event['failed']} failed)" if event["failed"]
                                                                 else ""),
             f"loss {_fmt(event.get('loss'))}", f"accuracy {_fmt(event.get('accuracy'), '.3f')}"]
    if event.get("held_accuracy") is not None:
        parts.append(f"held-out {event['held_accuracy']:.3f}")
    if event.get("verification"):
        v = event["verification"]
        parts.append(f"verification {v['accuracy']:.4f}±{v['accuracy_std']:.4f}")
    if "sample_epsilon" in event or "client_epsilon" in event:
        eps = event.get("epsilon")
        unit = "per image" if "sample_epsilon" in event else "per client"
        parts.append(f"epsilon {'inf' if eps is None else format(eps, '.3f')} ({unit})")
    return ", ".join(parts)


def run_federated(args: argparse.Namespace) -> int:
    config = config_from_args(args)  # before Flower or TensorFlow load: bad flags fail in a blink
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from .runner import run

    def show(event: dict[str, Any]) -> None:
        if event["type"] == "start":
            sizes = ", ".join(f"{c['images']}" for c in event.get("partition") or [])
            noise = f", noise multiplier {event['noise_multiplier']:.4g}" if event.get("noise_multiplier") else ""
            print(f"federated: {event['clients']} clients, {event['rounds']} rounds, DP {event['dp_level']}{noise}"
                  + (f"; images per client: {sizes}" if sizes else ""), flush=True)
        elif event["type"] == "round":
            print(round_line(event), flush=True)
            for client in event.get("clients", []):
                if client.get("status") == "failed":
                    print(f"  client {client['partition']} failed: {client['reason']}", flush=True)
        elif event["type"] == "log" and event.get("level") == "warning":
            print(f"warning: {event['message']}", flush=True)

    result = run(config, show)
    if result.get("stopped") == "privacy_budget":
        print(f"stopped after {result['rounds_completed']} rounds: the next would exceed --target_epsilon")
    if result.get("epsilon") is not None:
        print(f"privacy: epsilon {result['epsilon']:.4g} at delta {result['delta']:g}"
              f" ({result['model_card']['dp']['unit']})")
    if result.get("mia_auc") is not None:
        print(f"membership inference (loss threshold, per client): AUC {result['mia_auc']:.3f}")
    print(f"exported to {result['export_dir']}")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "model_card"}))
    return 0

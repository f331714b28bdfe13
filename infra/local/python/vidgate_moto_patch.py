"""Makes moto's DynamoDB TransactWriteItems all-or-nothing when a condition fails, as DynamoDB's is.

moto 5.1.22 applies a transaction item by item, recording a failed condition and going on, then
restores a copy of the table taken before it began. The stream records the other items wrote
survive or vanish depending on which copy the stream reader holds, so a cancelled transaction can
leave a record that never was and make a later, real one unreadable: a lifecycle event lost.
DynamoDB checks every condition before it writes anything. This checks them first too, and
cancels with the same reasons before moto writes a byte. Loaded by a `.pth` file that
infra/local/setup installs into .venv; it patches moto only when moto's DynamoDB is imported.
"""

import importlib.abc
import importlib.util
import sys

_TARGET = "moto.dynamodb.models"


def _patch(models):
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import TransactionCanceledException

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_vidgate_checked_first", False):
        return
    original = backend.transact_write_items

    def transact_write_items(self, transact_items):
        reasons = []
        for item in transact_items:
            try:
                op_type, op = next(iter(item.items()))
                condition = op.get("ConditionExpression")
                if condition is None or op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    reasons.append((None, None, None))
                    continue
                table = self.get_table(op["TableName"])
                if op_type == "Put":
                    attrs = op["Item"]
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                current = self.get_item(op["TableName"], key)
                check = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
                )
                if check.expr(current):
                    reasons.append((None, None, None))
                else:
                    old = None
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        old = current.to_json()["Attributes"]
                    reasons.append(("ConditionalCheckFailed", "The conditional request failed", old))
            except Exception:
                # Anything malformed: moto's own pass reports it as it always has.
                return original(self, transact_items)
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
        return original(self, transact_items)

    transact_write_items._vidgate_checked_first = True
    backend.transact_write_items = transact_write_items


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != _TARGET:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_patch(module):
            exec_module(module)
            _patch(module)

        loader.exec_module = exec_and_patch
        return spec


if not any(isinstance(f, _Finder) for f in sys.meta_path):
    sys.meta_path.insert(0, _Finder())

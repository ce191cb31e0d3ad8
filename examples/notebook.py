# %% [markdown]
# # mlops_infra in a notebook
# Each cell runs as is in Jupyter (or `python examples/notebook.py`). `local=True` uses the
# in-process emulator, so no GCP account is needed; drop it to work on a real project.

# %%
import mlops_infra

stack = mlops_infra.Stack.load("examples/quickstart.yaml", local=True)
plan = stack.plan()
plan  # in Jupyter: an HTML table of every change

# %%
print(plan.summary())
for change in plan.resources:
    print(change.action.symbol, change.kind, change.address)

# %%
result = stack.apply(plan)
print("ok" if result.ok else result.failures, result.outputs)

# %%
assert not stack.plan().has_changes   # reconciling again changes nothing
stack.close()

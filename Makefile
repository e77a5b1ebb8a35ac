# The two commands of README.md. Both install what they need first.
# make demo ADDR=0.0.0.0:8000 serves on another address (default 127.0.0.1:8000).
.PHONY: demo test
ADDR ?=
demo:
	@./scripts/demo.sh $(if $(ADDR),--addr $(ADDR))

test:
	@./scripts/test.sh $(ARGS)

# The two commands of README.md. Both install what they need first.
.PHONY: demo test
demo:
	@./scripts/demo.sh

test:
	@./scripts/test.sh $(ARGS)

FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml constraints.txt README.md ./
COPY api api
COPY cli cli
COPY contracts contracts
COPY embedded embedded
COPY evaluation evaluation
COPY explain explain
COPY features features
COPY models models
COPY pipeline pipeline
COPY rules rules
COPY simulator simulator
COPY store store
COPY stream stream
RUN pip install --no-cache-dir -c constraints.txt . && useradd --create-home riskwire \
    && mkdir -p /var/lib/riskwire && chown riskwire /var/lib/riskwire
USER riskwire
ENTRYPOINT ["riskwire"]

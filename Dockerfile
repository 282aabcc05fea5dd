# One image for both processes: the example host (npm start) and the sync
# worker (npm run worker). TypeScript runs through tsx, a runtime dependency,
# so there is no build step.
FROM node:20-slim

WORKDIR /app
ENV NODE_ENV=production

# Dependencies first: this layer is reused until package*.json change.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# Sources (.dockerignore keeps node_modules, tests, .env and .data out).
COPY . .

# The node image's unprivileged user; the app writes nothing under /app.
USER node

# 3000: the host. 3001: the sandbox practice's sign-in page (sandbox mode, HOST=0.0.0.0).
EXPOSE 3000 3001
CMD ["npm", "start"]
